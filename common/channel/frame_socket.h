// One end of the frontend <-> broker channel: a SOCK_SEQPACKET Unix socket that
// carries whole frames, each a byte string of at most kMaxFrameBytes plus at most
// kMaxFdsPerFrame file descriptors (SCM_RIGHTS).
//
// The socket keeps frame boundaries, so a frame is one sendmsg() and one recvmsg():
// concurrent senders never interleave. Receiving is defensive, because the peer may
// be compromised: a truncated frame, too many fds or an unexpected control message
// is an error, and every fd that arrived with a rejected frame is closed before
// Receive() returns. Received fds are close-on-exec (MSG_CMSG_CLOEXEC).

#ifndef VIRTIOFSD_COMMON_CHANNEL_FRAME_SOCKET_H_
#define VIRTIOFSD_COMMON_CHANNEL_FRAME_SOCKET_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// Fits the largest message of the protocol (a 64 KiB xattr value, a readdir page)
// and stays below the default AF_UNIX send buffer (net.core.wmem_default, 208 KiB),
// so no frame needs a privileged SO_SNDBUFFORCE.
inline constexpr size_t kMaxFrameBytes = 128 * 1024;
// A batch of replies carries at most one fd per reply; a frame holds at most this
// many (the batch is sent before it would hold more).
inline constexpr size_t kMaxFdsPerFrame = 16;

// A received frame. Reuse one Frame for many Receive() calls: its buffer is
// allocated once.
class Frame {
 public:
  Frame();

  std::string_view bytes() const { return std::string_view(buffer_.get(), size_); }
  // The fds that came with the frame, owned by the frame until moved out.
  std::vector<UniqueFd>& fds() { return fds_; }

 private:
  friend class FrameSocket;
  // Not zero-filled: only the pages frames are received into become resident.
  std::unique_ptr<char[]> buffer_;
  size_t size_ = 0;
  std::vector<UniqueFd> fds_;
};

class FrameSocket {
 public:
  // Takes a connected SOCK_SEQPACKET socket.
  explicit FrameSocket(UniqueFd socket) : socket_(std::move(socket)) {}

  // A connected pair (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)).
  static absl::StatusOr<std::pair<FrameSocket, FrameSocket>> CreatePair();

  FrameSocket(FrameSocket&&) = default;
  FrameSocket& operator=(FrameSocket&&) = default;

  // Sends one frame. Thread-safe. `bytes` must hold 1..kMaxFrameBytes bytes and
  // `fds` at most kMaxFdsPerFrame borrowed fds (the caller still owns them; the
  // peer receives duplicates). Errors: kInvalidArgument for a frame out of those
  // limits, kUnavailable when the peer has gone, else the errno of sendmsg.
  absl::Status Send(std::string_view bytes, absl::Span<const int> fds = {});

  // Blocks for the next frame and stores it in `frame` (replacing its contents).
  // Thread-safe. Errors, after which `frame` holds no fds:
  //   kUnavailable       the peer closed the socket (or sent an empty frame), or
  //                      Shutdown() was called;
  //   kInvalidArgument   the frame was longer than kMaxFrameBytes, carried more than
  //                      kMaxFdsPerFrame fds or a control message other than fds;
  //   kResourceExhausted (errno EMFILE) the frame arrived whole but the kernel
  //                      could not install one of its fds (this process's fd table
  //                      is full): `frame.bytes()` still holds the frame, so the
  //                      caller can fail just the request it answers;
  //   other              the errno of recvmsg.
  absl::Status Receive(Frame& frame);

  // Receive() without blocking: false (and `frame` empty) when no frame is queued.
  // The errors are Receive()'s; with kResourceExhausted the frame is received.
  absl::StatusOr<bool> TryReceive(Frame& frame);

  // Ends the connection both ways: blocked and later Receive() calls return
  // kUnavailable, Send() fails. The fd stays open until destruction.
  void Shutdown();

  int fd() const { return socket_.get(); }

 private:
  absl::Status ReceiveWithFlags(Frame& frame, int flags);

  UniqueFd socket_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_FRAME_SOCKET_H_
