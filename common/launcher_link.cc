#include "common/launcher_link.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/log_record.h"
#include "common/logging.h"
#include "common/status.h"

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

// The payload of a handed-over channel (a log record never goes this way).
constexpr char kChannelTag[] = "broker-channel";

// Blocks until the launcher's end of `fd` closes, passing each channel handed
// over to `on_channel`.
void AwaitLauncherGoneTakingChannels(int fd, const OrphanWatch::OnChannel& on_channel,
                                     const std::atomic<bool>& disarmed) {
  while (true) {
    char buffer[sizeof(kChannelTag)];
    iovec iov = {buffer, sizeof(buffer)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::vector<UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(received));
        fds.emplace_back(received);
      }
    }
    const bool is_channel = static_cast<size_t>(n) == sizeof(kChannelTag) &&
                            memcmp(buffer, kChannelTag, sizeof(kChannelTag)) == 0 &&
                            !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && fds.size() == 1;
    if (!is_channel) {
      VFSD_LOG(kWarn, "launcher link: an unexpected message dropped");
      continue;
    }
    if (!disarmed.load()) on_channel(std::move(fds[0]));
  }
}

}  // namespace

absl::Status HandOverChannel(int link_fd, int channel_fd) {
  char tag[sizeof(kChannelTag)];
  memcpy(tag, kChannelTag, sizeof(tag));
  iovec iov = {tag, sizeof(tag)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &channel_fd, sizeof(int));
  while (sendmsg(link_fd, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return ErrnoError(errno, "hand over the broker channel");
  }
  return absl::OkStatus();
}

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

OrphanWatch::OrphanWatch(int launcher_fd, int channel_fd, OnChannel on_channel)
    : disarmed_(std::make_shared<std::atomic<bool>>(false)) {
  // Detached: it may still be blocked when the process exits, which is fine.
  std::thread([launcher_fd, channel_fd, disarmed = disarmed_, on_channel = std::move(on_channel)] {
    bool channel_closed = false;
    if (channel_fd < 0 && on_channel) {
      AwaitLauncherGoneTakingChannels(launcher_fd, on_channel, *disarmed);
    } else if (channel_fd < 0) {
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
