// A child's end of its link to the launcher: a SOCK_SEQPACKET socket the launcher
// passes at exec (--launcher-fd) and keeps the other end of. It serves two ends:
// - The child dies with the launcher. The launcher never writes to the link, so it
//   reads as closed exactly when the launcher is gone, however it ended (SIGKILL
//   included). Unlike PR_SET_PDEATHSIG this survives the child's uid changes and
//   has no window in which the launcher can die unnoticed.
// - Log lines travel to the launcher as records (log_record.h), which writes them
//   to stderr or, with --syslog, to syslog, naming each process by its host pid.
//   The launcher owns the syslog connection: no confined process needs socket().
//
// - The launcher hands the frontend a new broker channel over it, when it has
//   started a fresh broker in place of one that died (HandOverChannel()): the only
//   thing the launcher ever sends on a link.
//
// All of it uses only read/poll/sendmsg/recvmsg on fds the process already holds:
// nothing the seccomp allow-lists would have to grow for.

#ifndef VIRTIOFSD_COMMON_LAUNCHER_LINK_H_
#define VIRTIOFSD_COMMON_LAUNCHER_LINK_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// Sends every later log line to the launcher over `fd` (see SetLogSink). A full
// socket blocks the thread, as a full stderr pipe would; a launcher gone loses it.
void LogToLauncher(int fd);

// The launcher's side: sends the child at the other end of `link_fd` its end of a
// new broker channel (`channel_fd`, duplicated by SCM_RIGHTS).
absl::Status HandOverChannel(int link_fd, int channel_fd);

// Watches, on a thread of its own, for the launcher to go away or, when
// `channel_fd` >= 0, for the other process to close the broker channel, and then
// ends this process at once with _exit(1) (one log line for the channel). Start it
// once the process is confined: a thread must not exist while credentials change.
// Destroying the watch disarms it (the process is ending on its own terms: its own
// shutdown of the channel must not count).
//
// With `on_channel` (and `channel_fd` < 0), each channel the launcher hands over
// is passed to it, on the watch's thread; anything else arriving on the link is
// dropped (its fds closed). Without, whatever arrives is dropped.
class OrphanWatch {
 public:
  using OnChannel = std::function<void(UniqueFd channel)>;
  OrphanWatch(int launcher_fd, int channel_fd, OnChannel on_channel = nullptr);
  ~OrphanWatch();
  OrphanWatch(const OrphanWatch&) = delete;
  OrphanWatch& operator=(const OrphanWatch&) = delete;

 private:
  std::shared_ptr<std::atomic<bool>> disarmed_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_LAUNCHER_LINK_H_
