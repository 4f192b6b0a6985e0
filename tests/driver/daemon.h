// Starts a vhost-user back-end process for a test or benchmark, waits for its
// socket to appear, and stops it again (SIGTERM, then SIGKILL after a grace
// period). The command line is a template: "{socket}" and "{dir}" in any argument
// become the socket path and the shared directory. stdout and stderr go to a file.
//
//   ASSERT_OK_AND_ASSIGN(auto daemon, Daemon::Start({
//       .argv = {"/usr/lib/qemu/virtiofsd", "--socket-path={socket}", "-o",
//                "source={dir}", "-o", "cache=auto"},
//       .socket_path = dir + "/vhost.sock", .shared_dir = dir + "/shared",
//       .log_path = dir + "/daemon.log"}));
//
// The process runs in its own process group, so helpers it forks are stopped with
// it. The destructor stops a process still running. Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_DAEMON_H_
#define VIRTIOFSD_TESTS_DRIVER_DAEMON_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace virtiofsd::driver {

class Daemon {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    std::string socket_path;        // removed before the start and after the stop
    std::string shared_dir;
    std::string log_path;  // the daemon's stdout and stderr
    absl::Duration start_timeout = absl::Seconds(10);
  };

  // Splits a shell-like command ("CMD --flag={socket} ...") on spaces; no quoting.
  static std::vector<std::string> SplitCommand(absl::string_view command);

  // Substitutes the placeholders, spawns, and waits until `socket_path` is a
  // socket. kDeadlineExceeded if it never appears, kAborted if the process exits
  // first (the message carries the end of its log).
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const Options& options);
  ~Daemon();

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }

  // True until the process has exited (reaps it if it has).
  bool Running();

  // SIGTERM to the process group, SIGKILL after `grace`; returns the wait status
  // (see <sys/wait.h>) of the daemon process. Idempotent.
  absl::StatusOr<int> Stop(absl::Duration grace = absl::Seconds(5));

  // The daemon's output so far.
  std::string Log() const;

 private:
  Daemon(pid_t pid, Options options) : pid_(pid), options_(std::move(options)) {}

  pid_t pid_;
  Options options_;
  bool reaped_ = false;
  bool stopped_ = false;
  int wait_status_ = 0;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_DAEMON_H_
