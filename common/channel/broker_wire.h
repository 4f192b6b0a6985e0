// Encoding of the broker protocol (proto/broker.proto) onto frames, each one
// batch of requests or replies, and the rules each side checks on what it
// receives: which replies carry an fd, which result answers which request, and
// which requests are one-way.
//
// Both sides use these functions; each checks everything it receives, because
// either peer may be broken (and the frontend may be compromised).

#ifndef VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_
#define VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/channel/frame_socket.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// Largest errno value a reply may carry (the kernel's MAX_ERRNO).
inline constexpr int kMaxErrno = 4095;

// Largest serialised Request or Reply: a frame holds it with the batch's field
// tag and length in front.
inline constexpr size_t kMaxMessageBytes = kMaxFrameBytes - 8;

// A reply and the fd it carried, if the protocol gives it one.
struct BrokerResponse {
  proto::Reply reply;
  UniqueFd fd;
};

// True for requests that get no reply (Forget, BatchForget, Interrupt).
bool IsOneWay(proto::Request::OpCase op);

// True for requests that go in a frame of their own (OpPace::kSlow in
// operations.h), so the broker serves the requests around them meanwhile.
bool TravelsAlone(proto::Request::OpCase op);

// The result a successful reply to `op` holds; RESULT_NOT_SET for one-way ops.
proto::Reply::ResultCase ExpectedResult(proto::Request::OpCase op);

// The number of fds a reply must carry: 1 for a successful Open, Create or
// Tmpfile reply (result `open` or `create`), else 0.
int ReplyFdCount(const proto::Reply& reply);

// One outgoing frame being filled: a RequestBatch or a ReplyBatch, serialised as
// messages are appended, with the fds its replies carry (borrowed: they must stay
// open until Send()). Holds either requests or replies, never both.
class BatchFrame {
 public:
  // Appends `request`. True when appended; false when it does not fit with what
  // the frame holds (Send() first); kInvalidArgument when it is larger than
  // kMaxMessageBytes, so no frame can carry it.
  absl::StatusOr<bool> Append(const proto::Request& request);
  // Appends `reply` with `fd` (-1 for none), as Append(request) does; also
  // kInvalidArgument when `fd` and ReplyFdCount() disagree.
  absl::StatusOr<bool> Append(const proto::Reply& reply, int fd = -1);

  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }

  // Sends what the frame holds as one frame (nothing if empty) and empties it,
  // also on error (FrameSocket::Send()'s).
  absl::Status Send(FrameSocket& socket);

 private:
  absl::StatusOr<bool> AppendMessage(const google::protobuf::MessageLite& message, int fd);

  std::string bytes_;
  std::vector<int> fds_;
  size_t count_ = 0;
};

// A batch of one.
absl::Status SendRequest(FrameSocket& socket, const proto::Request& request);
absl::Status SendReply(FrameSocket& socket, const proto::Reply& reply, int fd = -1);

// Parses a received frame of requests and checks it against the protocol: at
// least one request; each has an op, and an id that is 0 exactly for one-way ops;
// no fd came along. kInvalidArgument otherwise. The frame's fds are closed in
// every case.
absl::StatusOr<proto::RequestBatch> DecodeRequests(Frame& frame);
// DecodeRequests() of a frame that must hold exactly one request.
absl::StatusOr<proto::Request> DecodeRequest(Frame& frame);

// Parses a received frame of replies and checks it: at least one reply; each has
// a non-zero id, an errno in 0..kMaxErrno, a result exactly when error is 0; the
// frame carried as many fds as ReplyFdCount() adds up to. Each fd moves into its
// reply's response, in order; on error every fd is closed.
absl::StatusOr<std::vector<BrokerResponse>> DecodeReplies(Frame& frame);
// DecodeReplies() of a frame that must hold exactly one reply.
absl::StatusOr<BrokerResponse> DecodeReply(Frame& frame);

// For a frame whose fds could not be received (FrameSocket::Receive() said
// kResourceExhausted): parses and checks its replies as DecodeReplies() does, and
// requires at least one of them to carry an fd, else kInvalidArgument. The caller
// fails each reply that carries an fd and gives back what it granted (see
// BrokerClient); the others are whole.
absl::StatusOr<std::vector<proto::Reply>> DecodeRepliesThatLostTheirFds(Frame& frame);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_BROKER_WIRE_H_
