#include "tests/driver/vhost_user_channel.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace virtiofsd::driver {
namespace {

constexpr size_t kMaxPayload = 64 << 10;
constexpr size_t kMaxFds = 16;

}  // namespace

absl::StatusOr<VhostUserChannel> VhostUserChannel::Connect(const std::string& socket_path,
                                                           absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError("socket path too long: " + socket_path);
  }
  memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket) return ErrnoError(errno, "socket");
    if (connect(socket.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return VhostUserChannel(std::move(socket), timeout);
    }
    const int err = errno;
    if ((err != ENOENT && err != ECONNREFUSED) || absl::Now() > deadline) {
      return ErrnoError(err, "connect " + socket_path);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

VhostUserChannel::VhostUserChannel(UniqueFd socket, absl::Duration timeout)
    : socket_(std::move(socket)), timeout_(timeout) {}

absl::Status VhostUserChannel::Send(uint32_t request, uint32_t flags, absl::string_view payload,
                                    absl::Span<const int> fds) {
  VhostUserHeader header{request, flags, static_cast<uint32_t>(payload.size())};
  std::string bytes(reinterpret_cast<const char*>(&header), sizeof(header));
  bytes.append(payload.data(), payload.size());
  return SendRaw(bytes, fds);
}

absl::Status VhostUserChannel::SendRaw(absl::string_view bytes, absl::Span<const int> fds) {
  if (fds.size() > kMaxFds) return absl::InvalidArgumentError("too many fds");
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  // The fds go with the first byte; the rest of a large message may need more writes.
  size_t sent = 0;
  while (sent < bytes.size() || (sent == 0 && bytes.empty())) {
    const ssize_t n = sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "vhost-user sendmsg");
    }
    sent += n;
    if (bytes.empty()) break;
    iov.iov_base = const_cast<char*>(bytes.data()) + sent;
    iov.iov_len = bytes.size() - sent;
    msg.msg_control = nullptr;
    msg.msg_controllen = 0;
  }
  return absl::OkStatus();
}

absl::Status VhostUserChannel::ReceiveExactly(char* data, size_t size, std::vector<UniqueFd>* fds) {
  const absl::Time deadline = absl::Now() + timeout_;
  size_t got = 0;
  while (got < size) {
    pollfd pfd{socket_.get(), POLLIN, 0};
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    const int ready = poll(&pfd, 1, left_ms > 0 ? static_cast<int>(left_ms) : 0);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "poll vhost-user socket");
    }
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrFormat("no vhost-user reply within %s", absl::FormatDuration(timeout_)));
    }
    iovec iov{data + got, size - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return ErrnoError(errno, "vhost-user recvmsg");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds->emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return absl::DataLossError("too many fds in a reply");
    if (n == 0) return absl::UnavailableError("the vhost-user back-end closed the socket");
    got += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<VhostUserMessage> VhostUserChannel::Receive() {
  VhostUserMessage message;
  VFSD_RETURN_IF_ERROR(ReceiveExactly(reinterpret_cast<char*>(&message.header),
                                      sizeof(message.header), &message.fds));
  if (message.header.size > kMaxPayload) {
    return absl::DataLossError(
        absl::StrFormat("vhost-user payload of %d bytes", message.header.size));
  }
  message.payload.resize(message.header.size);
  VFSD_RETURN_IF_ERROR(
      ReceiveExactly(message.payload.data(), message.payload.size(), &message.fds));
  return message;
}

absl::StatusOr<VhostUserMessage> VhostUserChannel::Call(uint32_t request, uint32_t flags,
                                                        absl::string_view payload,
                                                        absl::Span<const int> fds) {
  VFSD_RETURN_IF_ERROR(Send(request, flags, payload, fds));
  VFSD_ASSIGN_OR_RETURN(VhostUserMessage reply, Receive());
  if (reply.header.request != request || (reply.header.flags & kVhostUserReplyFlag) == 0 ||
      (reply.header.flags & kVhostUserVersionMask) != kVhostUserVersion) {
    return absl::DataLossError(absl::StrFormat("reply to request %d has request %d flags 0x%x",
                                               request, reply.header.request, reply.header.flags));
  }
  return reply;
}

}  // namespace virtiofsd::driver
