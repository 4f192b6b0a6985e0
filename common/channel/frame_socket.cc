#include "common/channel/frame_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

// Control buffer for exactly kMaxFdsPerFrame fds: a sender that attaches more gets
// MSG_CTRUNC, and the kernel never installs the surplus in our fd table.
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame);

}  // namespace

Frame::Frame() : buffer_(new char[kMaxFrameBytes]) { fds_.reserve(kMaxFdsPerFrame); }

absl::StatusOr<std::pair<FrameSocket, FrameSocket>> FrameSocket::CreatePair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoError(errno, "socketpair");
  }
  return std::make_pair(FrameSocket(UniqueFd(fds[0])), FrameSocket(UniqueFd(fds[1])));
}

absl::Status FrameSocket::Send(std::string_view bytes, absl::Span<const int> fds) {
  if (bytes.empty() || bytes.size() > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", bytes.size(), " bytes is outside 1..", kMaxFrameBytes));
  }
  if (fds.size() > kMaxFdsPerFrame) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame with ", fds.size(), " fds exceeds ", kMaxFdsPerFrame));
  }
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[kControlBytes] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
      return absl::UnavailableError("peer closed the channel");
    }
    return ErrnoError(errno, "sendmsg");
  }
  return absl::OkStatus();  // SOCK_SEQPACKET sends all or nothing.
}

absl::Status FrameSocket::Receive(Frame& frame) { return ReceiveWithFlags(frame, 0); }

absl::StatusOr<bool> FrameSocket::TryReceive(Frame& frame) {
  VFSD_RETURN_IF_ERROR(ReceiveWithFlags(frame, MSG_DONTWAIT));
  return frame.size_ > 0;  // a frame received is never empty
}

absl::Status FrameSocket::ReceiveWithFlags(Frame& frame, int flags) {
  frame.size_ = 0;
  frame.fds_.clear();
  iovec iov{frame.buffer_.get(), kMaxFrameBytes};
  alignas(cmsghdr) char control[kControlBytes];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC | flags);
  } while (received < 0 && errno == EINTR);
  if (received < 0 && errno == EAGAIN && (flags & MSG_DONTWAIT)) return absl::OkStatus();
  if (received < 0) {
    if (errno == ECONNRESET) return absl::UnavailableError("peer reset the channel");
    return ErrnoError(errno, "recvmsg");
  }

  // Take ownership of every fd first, so that each error below closes them.
  bool foreign_control = false;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
      foreign_control = true;
      continue;
    }
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      frame.fds_.emplace_back(fd);
    }
  }

  absl::Status status;
  if (msg.msg_flags & MSG_TRUNC) {
    status =
        absl::InvalidArgumentError(absl::StrCat("frame longer than ", kMaxFrameBytes, " bytes"));
  } else if ((msg.msg_flags & MSG_CTRUNC) && frame.fds_.size() < kMaxFdsPerFrame &&
             !foreign_control) {
    // The control buffer had room: the kernel stopped installing fds because it
    // could not (a full fd table). The bytes are whole and stay readable.
    frame.fds_.clear();
    frame.size_ = static_cast<size_t>(received);
    return ErrnoError(EMFILE, "receiving the fd that came with a frame");
  } else if (msg.msg_flags & MSG_CTRUNC) {
    status =
        absl::InvalidArgumentError(absl::StrCat("frame with more than ", kMaxFdsPerFrame, " fds"));
  } else if (foreign_control) {
    status = absl::InvalidArgumentError("frame with an unexpected control message");
  } else if (received == 0) {
    // SOCK_SEQPACKET reports end of stream and an empty frame alike; the protocol
    // never sends empty frames, so both end the channel.
    status = absl::UnavailableError("peer closed the channel");
  }
  if (!status.ok()) {
    frame.fds_.clear();
    return status;
  }
  frame.size_ = static_cast<size_t>(received);
  return absl::OkStatus();
}

void FrameSocket::Shutdown() { shutdown(socket_.get(), SHUT_RDWR); }

}  // namespace virtiofsd
