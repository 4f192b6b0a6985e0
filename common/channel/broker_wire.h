// Encoding of the broker protocol (proto/broker.proto) onto frames, and the rules
// each side checks on what it receives: which replies carry an fd, which result
// answers which request, and which requests are one-way.
//
// Both sides use these functions; each checks everything it receives, because
// either peer may be broken (and the frontend may be compromised).

#ifndef VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_
#define VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/channel/frame_socket.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// Largest errno value a reply may carry (the kernel's MAX_ERRNO).
inline constexpr int kMaxErrno = 4095;

// A reply and the fd it carried, if the protocol gives it one.
struct BrokerResponse {
  proto::Reply reply;
  UniqueFd fd;
};

// True for requests that get no reply (Forget, BatchForget, Interrupt).
bool IsOneWay(proto::Request::OpCase op);

// The result a successful reply to `op` holds; RESULT_NOT_SET for one-way ops.
proto::Reply::ResultCase ExpectedResult(proto::Request::OpCase op);

// The number of fds a reply must carry: 1 for a successful Open, Create or
// Tmpfile reply (result `open` or `create`), else 0.
int ReplyFdCount(const proto::Reply& reply);

// Serialises and sends. `fd` is borrowed; it is attached only when the protocol
// gives this reply an fd (kInvalidArgument if `fd` and the rule disagree).
absl::Status SendRequest(FrameSocket& socket, const proto::Request& request);
absl::Status SendReply(FrameSocket& socket, const proto::Reply& reply, int fd = -1);

// Parses a received frame and checks it against the protocol: an op is set, the id
// is 0 exactly for one-way ops, and no fd came along. kInvalidArgument otherwise.
// The frame's fds are closed in every case.
absl::StatusOr<proto::Request> DecodeRequest(Frame& frame);

// Parses a received reply and checks it: a non-zero id, an errno in 0..kMaxErrno,
// a result exactly when error is 0, and the fd count of ReplyFdCount(). The fd
// moves into the response; on error every fd is closed.
absl::StatusOr<BrokerResponse> DecodeReply(Frame& frame);

// For a frame whose fd could not be received (FrameSocket::Receive() said
// kResourceExhausted): parses and checks it as DecodeReply() does, and requires it
// to be a reply that carries an fd (ReplyFdCount() 1), else kInvalidArgument. The
// caller fails the request and gives back what the reply granted (see
// BrokerClient).
absl::StatusOr<proto::Reply> DecodeReplyThatLostItsFd(Frame& frame);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_
