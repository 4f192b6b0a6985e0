#include "launcher/child_links.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "common/log_record.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

constexpr const char* kNames[] = {"virtiofsd-broker", "virtiofsd-frontend"};

}  // namespace

absl::StatusOr<std::unique_ptr<ChildLinks>> ChildLinks::Create() {
  std::unique_ptr<ChildLinks> links(new ChildLinks());
  for (int child : {kBroker, kFrontend}) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      return ErrnoError(errno, "socketpair");
    }
    links->own_ends_[child].Reset(fds[0]);
    links->child_ends_[child].Reset(fds[1]);
    // The kernel then tells who sent each record.
    const int on = 1;
    if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
      return ErrnoError(errno, "SO_PASSCRED");
    }
  }
  links->stop_.Reset(eventfd(0, EFD_CLOEXEC));
  if (!links->stop_.valid()) return ErrnoError(errno, "eventfd");
  return links;
}

ChildLinks::~ChildLinks() {
  if (relay_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = write(stop_.get(), &one, sizeof(one));
    (void)ignored;
    relay_.join();
  }
}

void ChildLinks::CloseChildEnds(bool keep_broker_end) {
  if (!keep_broker_end) child_ends_[kBroker].Reset();
  child_ends_[kFrontend].Reset();
}

void ChildLinks::StartRelay(Sink sink) {
  sink_ = std::move(sink);
  relay_ = std::thread([this] { Relay(); });
}

void ChildLinks::Relay() {
  pollfd fds[] = {{own_ends_[kBroker].get(), POLLIN, 0},
                  {own_ends_[kFrontend].get(), POLLIN, 0},
                  {stop_.get(), POLLIN, 0}};
  while (true) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (Child child : {kBroker, kFrontend}) {
      // A child that is gone is not polled again (its end would always be ready).
      if (fds[child].revents != 0 && !RelayPending(child)) fds[child].fd = -1;
    }
    if (fds[2].revents != 0) {
      // Stopping: the children are gone; write out what they sent last.
      for (Child child : {kBroker, kFrontend}) RelayPending(child);
      return;
    }
  }
}

bool ChildLinks::RelayPending(Child child) {
  while (true) {
    char buffer[kMaxLogRecordBytes + 1];
    iovec iov = {buffer, sizeof(buffer)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(own_ends_[child].get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;  // the child's end closed
    pid_t pid = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        pid = cred.pid;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        // A record carries no fds: whatever came is closed at once.
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd;
          memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
          UniqueFd owned(fd);
        }
      }
    }
    if (msg.msg_flags & MSG_TRUNC) continue;  // oversized: not a record
    std::optional<LogRecord> record = DecodeLogRecord(absl::string_view(buffer, n));
    if (record.has_value()) sink_(kNames[child], pid, record->level, record->message);
  }
}

}  // namespace virtiofsd
