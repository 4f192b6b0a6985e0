#include "common/channel/broker_wire.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/channel/operations.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

using Op = proto::Request::OpCase;
using Result = proto::Reply::ResultCase;

// The wire tag of field 1 (`requests`, `replies`) of a batch: length-delimited.
constexpr char kBatchFieldTag = (1 << 3) | 2;

// Appends `value` as a protobuf varint.
void AppendVarint(std::string& bytes, uint64_t value) {
  while (value >= 0x80) {
    bytes.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  bytes.push_back(static_cast<char>(value));
}

template <typename Batch>
absl::StatusOr<Batch> ParseBatch(const Frame& frame, absl::string_view what) {
  Batch batch;
  if (!batch.ParseFromArray(frame.bytes().data(), static_cast<int>(frame.bytes().size()))) {
    return absl::InvalidArgumentError(absl::StrCat("unparsable ", what));
  }
  return batch;
}

absl::Status CheckRequest(const proto::Request& request) {
  if (request.op_case() == Op::OP_NOT_SET) {
    return absl::InvalidArgumentError("request without an operation");
  }
  if ((request.id() == 0) != IsOneWay(request.op_case())) {
    return absl::InvalidArgumentError(absl::StrCat("request id ", request.id(),
                                                   " does not fit operation ",
                                                   static_cast<int>(request.op_case())));
  }
  return absl::OkStatus();
}

// Checks everything about a reply but its fds.
absl::Status CheckReply(const proto::Reply& reply) {
  if (reply.id() == 0) return absl::InvalidArgumentError("reply without an id");
  if (reply.error() < 0 || reply.error() > kMaxErrno) {
    return absl::InvalidArgumentError(absl::StrCat("reply with errno ", reply.error()));
  }
  if ((reply.error() == 0) == (reply.result_case() == Result::RESULT_NOT_SET)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " must hold a result exactly when it succeeds"));
  }
  return absl::OkStatus();
}

// Parses a frame of replies and checks each, but not the frame's fds.
absl::StatusOr<proto::ReplyBatch> ParseReplies(const Frame& frame) {
  VFSD_ASSIGN_OR_RETURN(proto::ReplyBatch batch, ParseBatch<proto::ReplyBatch>(frame, "reply"));
  if (batch.replies().empty()) return absl::InvalidArgumentError("empty batch of replies");
  for (const proto::Reply& reply : batch.replies()) VFSD_RETURN_IF_ERROR(CheckReply(reply));
  return batch;
}

}  // namespace

bool IsOneWay(Op op) {
  const std::optional<OperationRule> rule = FindOperation(op);
  return rule.has_value() && rule->effect == OpEffect::kOneWay;
}

bool TravelsAlone(Op op) {
  const std::optional<OperationRule> rule = FindOperation(op);
  return rule.has_value() && rule->pace == OpPace::kSlow;
}

Result ExpectedResult(Op op) {
  const std::optional<OperationRule> rule = FindOperation(op);
  return rule.has_value() ? rule->result : Result::RESULT_NOT_SET;
}

int ReplyFdCount(const proto::Reply& reply) {
  if (reply.error() != 0) return 0;
  return reply.result_case() == Result::kOpen || reply.result_case() == Result::kCreate ? 1 : 0;
}

absl::StatusOr<bool> BatchFrame::Append(const proto::Request& request) {
  return AppendMessage(request, -1);
}

absl::StatusOr<bool> BatchFrame::Append(const proto::Reply& reply, int fd) {
  const int expected = ReplyFdCount(reply);
  if (expected != (fd >= 0 ? 1 : 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reply ", reply.id(), " must carry ", expected, " fds"));
  }
  return AppendMessage(reply, fd);
}

absl::StatusOr<bool> BatchFrame::AppendMessage(const google::protobuf::MessageLite& message,
                                               int fd) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxMessageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", size, " bytes exceeds ", kMaxMessageBytes));
  }
  // Tag and a length of at most 3 varint bytes (kMaxMessageBytes < 2^21).
  if (bytes_.size() + 4 + size > kMaxFrameBytes || (fd >= 0 && fds_.size() == kMaxFdsPerFrame)) {
    return false;
  }
  bytes_.push_back(kBatchFieldTag);
  AppendVarint(bytes_, size);
  if (!message.AppendToString(&bytes_)) return absl::InternalError("cannot serialise message");
  if (fd >= 0) fds_.push_back(fd);
  ++count_;
  return true;
}

absl::Status BatchFrame::Send(FrameSocket& socket) {
  if (count_ == 0) return absl::OkStatus();
  absl::Status sent = socket.Send(bytes_, fds_);
  bytes_.clear();
  fds_.clear();
  count_ = 0;
  return sent;
}

absl::Status SendRequest(FrameSocket& socket, const proto::Request& request) {
  BatchFrame frame;
  VFSD_RETURN_IF_ERROR(frame.Append(request).status());
  return frame.Send(socket);
}

absl::Status SendReply(FrameSocket& socket, const proto::Reply& reply, int fd) {
  BatchFrame frame;
  VFSD_RETURN_IF_ERROR(frame.Append(reply, fd).status());
  return frame.Send(socket);
}

absl::StatusOr<proto::RequestBatch> DecodeRequests(Frame& frame) {
  const size_t fd_count = frame.fds().size();
  frame.fds().clear();
  if (fd_count != 0) {
    return absl::InvalidArgumentError(absl::StrCat("request with ", fd_count, " fds"));
  }
  VFSD_ASSIGN_OR_RETURN(proto::RequestBatch batch,
                        ParseBatch<proto::RequestBatch>(frame, "request"));
  if (batch.requests().empty()) return absl::InvalidArgumentError("empty batch of requests");
  for (const proto::Request& request : batch.requests()) {
    VFSD_RETURN_IF_ERROR(CheckRequest(request));
  }
  return batch;
}

absl::StatusOr<proto::Request> DecodeRequest(Frame& frame) {
  VFSD_ASSIGN_OR_RETURN(proto::RequestBatch batch, DecodeRequests(frame));
  if (batch.requests_size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", batch.requests_size(), " requests, expected one"));
  }
  return std::move(*batch.mutable_requests(0));
}

absl::StatusOr<std::vector<BrokerResponse>> DecodeReplies(Frame& frame) {
  std::vector<UniqueFd> fds = std::move(frame.fds());
  frame.fds().clear();
  VFSD_ASSIGN_OR_RETURN(proto::ReplyBatch batch, ParseReplies(frame));
  size_t expected = 0;
  for (const proto::Reply& reply : batch.replies()) expected += ReplyFdCount(reply);
  if (fds.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("batch of ", batch.replies_size(),
                                                   " replies carried ", fds.size(),
                                                   " fds, expected ", expected));
  }
  std::vector<BrokerResponse> responses(batch.replies_size());
  size_t next_fd = 0;
  for (int i = 0; i < batch.replies_size(); ++i) {
    responses[i].reply = std::move(*batch.mutable_replies(i));
    if (ReplyFdCount(responses[i].reply) == 1) responses[i].fd = std::move(fds[next_fd++]);
  }
  return responses;
}

absl::StatusOr<BrokerResponse> DecodeReply(Frame& frame) {
  VFSD_ASSIGN_OR_RETURN(std::vector<BrokerResponse> responses, DecodeReplies(frame));
  if (responses.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", responses.size(), " replies, expected one"));
  }
  return std::move(responses[0]);
}

absl::StatusOr<std::vector<proto::Reply>> DecodeRepliesThatLostTheirFds(Frame& frame) {
  frame.fds().clear();
  VFSD_ASSIGN_OR_RETURN(proto::ReplyBatch batch, ParseReplies(frame));
  bool any_fd = false;
  for (const proto::Reply& reply : batch.replies()) any_fd |= ReplyFdCount(reply) == 1;
  if (!any_fd) {
    return absl::InvalidArgumentError("a batch of replies came with fds it must not carry");
  }
  return std::vector<proto::Reply>(std::make_move_iterator(batch.mutable_replies()->begin()),
                                   std::make_move_iterator(batch.mutable_replies()->end()));
}

}  // namespace virtiofsd
