#include "common/channel/broker_wire.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/channel/operations.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

using Op = proto::Request::OpCase;
using Result = proto::Reply::ResultCase;

absl::Status SendMessage(FrameSocket& socket, const google::protobuf::MessageLite& message,
                         absl::Span<const int> fds) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise message");
  }
  return socket.Send(bytes, fds);
}

}  // namespace

bool IsOneWay(Op op) {
  const std::optional<OperationRule> rule = FindOperation(op);
  return rule.has_value() && rule->effect == OpEffect::kOneWay;
}

Result ExpectedResult(Op op) {
  const std::optional<OperationRule> rule = FindOperation(op);
  return rule.has_value() ? rule->result : Result::RESULT_NOT_SET;
}

int ReplyFdCount(const proto::Reply& reply) {
  if (reply.error() != 0) return 0;
  return reply.result_case() == Result::kOpen || reply.result_case() == Result::kCreate ? 1 : 0;
}

absl::Status SendRequest(FrameSocket& socket, const proto::Request& request) {
  return SendMessage(socket, request, {});
}

absl::Status SendReply(FrameSocket& socket, const proto::Reply& reply, int fd) {
  int expected = ReplyFdCount(reply);
  if (expected != (fd >= 0 ? 1 : 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " must carry ", expected, " fds"));
  }
  if (fd >= 0) return SendMessage(socket, reply, {&fd, 1});
  return SendMessage(socket, reply, {});
}

absl::StatusOr<proto::Request> DecodeRequest(Frame& frame) {
  const size_t fd_count = frame.fds().size();
  frame.fds().clear();
  if (fd_count != 0) {
    return absl::InvalidArgumentError(absl::StrCat("request with ", fd_count, " fds"));
  }
  proto::Request request;
  if (!request.ParseFromArray(frame.bytes().data(), static_cast<int>(frame.bytes().size()))) {
    return absl::InvalidArgumentError("unparsable request");
  }
  if (request.op_case() == Op::OP_NOT_SET) {
    return absl::InvalidArgumentError("request without an operation");
  }
  if ((request.id() == 0) != IsOneWay(request.op_case())) {
    return absl::InvalidArgumentError(absl::StrCat("request id ", request.id(),
                                                   " does not fit operation ",
                                                   static_cast<int>(request.op_case())));
  }
  return request;
}

namespace {

// Parses a reply and checks everything but its fds.
absl::StatusOr<proto::Reply> ParseReply(const Frame& frame) {
  proto::Reply reply;
  if (!reply.ParseFromArray(frame.bytes().data(), static_cast<int>(frame.bytes().size()))) {
    return absl::InvalidArgumentError("unparsable reply");
  }
  if (reply.id() == 0) return absl::InvalidArgumentError("reply without an id");
  if (reply.error() < 0 || reply.error() > kMaxErrno) {
    return absl::InvalidArgumentError(absl::StrCat("reply with errno ", reply.error()));
  }
  if ((reply.error() == 0) == (reply.result_case() == Result::RESULT_NOT_SET)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " must hold a result exactly when it succeeds"));
  }
  return reply;
}

}  // namespace

absl::StatusOr<BrokerResponse> DecodeReply(Frame& frame) {
  std::vector<UniqueFd> fds = std::move(frame.fds());
  frame.fds().clear();
  BrokerResponse response;
  VFSD_ASSIGN_OR_RETURN(response.reply, ParseReply(frame));
  const proto::Reply& reply = response.reply;
  const size_t expected = ReplyFdCount(reply);
  if (fds.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " carried ", fds.size(), " fds, expected ", expected));
  }
  if (expected == 1) response.fd = std::move(fds[0]);
  return response;
}

absl::StatusOr<proto::Reply> DecodeReplyThatLostItsFd(Frame& frame) {
  frame.fds().clear();
  VFSD_ASSIGN_OR_RETURN(proto::Reply reply, ParseReply(frame));
  if (ReplyFdCount(reply) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " came with an fd it must not carry"));
  }
  return reply;
}

}  // namespace virtiofsd
