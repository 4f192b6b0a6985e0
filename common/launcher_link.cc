#include "common/launcher_link.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/log_record.h"
#include "common/logging.h"

namespace virtiofsd {
namespace {

// Blocks until the launcher's end of `fd` closes. read() only: the broker's
// allow-list has no poll().
void AwaitLauncherGone(int fd) {
  char byte;
  while (true) {
    const ssize_t n = read(fd, &byte, sizeof(byte));
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

// Blocks until the launcher is gone (returns false) or the channel's peer closed
// it (returns true).
bool AwaitLauncherOrChannelGone(int launcher_fd, int channel_fd) {
  pollfd fds[] = {{launcher_fd, POLLIN, 0}, {channel_fd, POLLRDHUP, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;  // cannot watch: end rather than outlive the launcher unseen
    }
    if (fds[0].revents != 0) return false;
    if (fds[1].revents != 0) return true;
  }
}

}  // namespace

void LogToLauncher(int fd) {
  SetLogSink([fd](LogLevel level, absl::string_view message) {
    std::string record = EncodeLogRecord(level, message);
    iovec iov = {record.data(), record.size()};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // sendmsg, as on the broker channel: both allow-lists have it.
    (void)!sendmsg(fd, &msg, MSG_NOSIGNAL);
  });
}

OrphanWatch::OrphanWatch(int launcher_fd, int channel_fd)
    : disarmed_(std::make_shared<std::atomic<bool>>(false)) {
  // Detached: it may still be blocked when the process exits, which is fine.
  std::thread([launcher_fd, channel_fd, disarmed = disarmed_] {
    bool channel_closed = false;
    if (channel_fd < 0) {
      AwaitLauncherGone(launcher_fd);
    } else {
      channel_closed = AwaitLauncherOrChannelGone(launcher_fd, channel_fd);
    }
    if (disarmed->load()) return;
    if (channel_closed) VFSD_LOG(kError, "the broker closed the channel; exiting");
    _exit(1);
  }).detach();
}

OrphanWatch::~OrphanWatch() { disarmed_->store(true); }

}  // namespace virtiofsd
