#include "common/channel/broker_wire.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::OpenFds;
using ::virtiofsd::testing::StatusIs;

class BrokerWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    a_.emplace(std::move(pair->first));
    b_.emplace(std::move(pair->second));
    fds_before_ = OpenFds();
  }
  void TearDown() override {
    frame_.fds().clear();
    EXPECT_EQ(OpenFds(), fds_before_) << "an fd leaked";
  }

  // Puts `message` into frame_ as it arrives from the peer, with `fd_count` fds.
  void Deliver(const google::protobuf::MessageLite& message, int fd_count = 0) {
    Deliver(message.SerializeAsString(), fd_count);
  }
  void Deliver(const std::string& bytes, int fd_count = 0) {
    std::vector<int> fds;
    for (int i = 0; i < fd_count; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_OK(a_->Send(bytes, fds));
    for (int fd : fds) close(fd);
    ASSERT_OK(b_->Receive(frame_));
  }

  static proto::Request Lookup(uint64_t id) {
    proto::Request request;
    request.set_id(id);
    request.mutable_caller()->set_uid(1000);
    request.mutable_lookup()->set_parent(1);
    request.mutable_lookup()->set_name("file");
    return request;
  }
  static proto::Reply OpenReply(uint64_t id) {
    proto::Reply reply;
    reply.set_id(id);
    reply.mutable_open()->set_handle(7);
    return reply;
  }

  std::optional<FrameSocket> a_;
  std::optional<FrameSocket> b_;
  Frame frame_;
  std::set<int> fds_before_;
};

TEST_F(BrokerWireTest, RequestRoundTrip) {
  ASSERT_OK(SendRequest(*a_, Lookup(5)));
  ASSERT_OK(b_->Receive(frame_));
  ASSERT_OK_AND_ASSIGN(proto::Request request, DecodeRequest(frame_));
  EXPECT_EQ(request.id(), 5u);
  EXPECT_EQ(request.caller().uid(), 1000u);
  EXPECT_EQ(request.lookup().name(), "file");
}

TEST_F(BrokerWireTest, RequestWithAnFdIsRefusedAndTheFdClosed) {
  Deliver(Lookup(5), 1);
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, MalformedRequestsAreRefused) {
  Deliver(std::string("\xff\xff\xff\xff garbage", 13));
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Request no_op;
  no_op.set_id(3);
  Deliver(no_op);
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  Deliver(Lookup(0));  // A reply-bearing request needs an id.
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Request forget;
  forget.set_id(9);  // One-way requests carry id 0.
  forget.mutable_forget()->set_node(4);
  Deliver(forget);
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, OpenReplyCarriesItsFd) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_OK(SendReply(*a_, OpenReply(2), fd));
  close(fd);
  ASSERT_OK(b_->Receive(frame_));
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, DecodeReply(frame_));
  EXPECT_EQ(response.reply.open().handle(), 7u);
  EXPECT_TRUE(response.fd.valid());
}

TEST_F(BrokerWireTest, SendReplyEnforcesTheFdRule) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_THAT(SendReply(*a_, OpenReply(2)), StatusIs(absl::StatusCode::kInvalidArgument));
  proto::Reply attr;
  attr.set_id(3);
  attr.mutable_attr();
  EXPECT_THAT(SendReply(*a_, attr, fd), StatusIs(absl::StatusCode::kInvalidArgument));
  proto::Reply failed_open;
  failed_open.set_id(4);
  failed_open.set_error(EACCES);
  EXPECT_THAT(SendReply(*a_, failed_open, fd), StatusIs(absl::StatusCode::kInvalidArgument));
  close(fd);
}

TEST_F(BrokerWireTest, ReplyWithTheWrongNumberOfFdsIsRefused) {
  Deliver(OpenReply(2), 0);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  Deliver(OpenReply(2), 2);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  proto::Reply attr;
  attr.set_id(3);
  attr.mutable_attr();
  Deliver(attr, 1);  // An fd on a message type that carries none.
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, MalformedRepliesAreRefused) {
  Deliver(std::string("\x0a\xff", 2));
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Reply no_id = OpenReply(0);
  Deliver(no_id, 1);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Reply bad_errno;
  bad_errno.set_id(1);
  bad_errno.set_error(kMaxErrno + 1);
  Deliver(bad_errno);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  bad_errno.set_error(-1);
  Deliver(bad_errno);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Reply error_with_result = OpenReply(1);
  error_with_result.set_error(ENOENT);
  Deliver(error_with_result);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));

  proto::Reply success_without_result;
  success_without_result.set_id(1);
  Deliver(success_without_result);
  EXPECT_THAT(DecodeReply(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, ErrorReplyDecodes) {
  proto::Reply reply;
  reply.set_id(8);
  reply.set_error(EROFS);
  Deliver(reply);
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, DecodeReply(frame_));
  EXPECT_EQ(response.reply.error(), EROFS);
  EXPECT_FALSE(response.fd.valid());
}

// Every operation of the protocol is either one-way or has a result: a new op
// added to broker.proto without a rule fails here.
TEST(BrokerWireRulesTest, EveryOperationHasARule) {
  const auto* oneof = proto::Request::descriptor()->FindOneofByName("op");
  ASSERT_NE(oneof, nullptr);
  int one_way = 0;
  for (int i = 0; i < oneof->field_count(); ++i) {
    auto op = static_cast<proto::Request::OpCase>(oneof->field(i)->number());
    if (IsOneWay(op)) {
      ++one_way;
      EXPECT_EQ(ExpectedResult(op), proto::Reply::RESULT_NOT_SET);
    } else {
      EXPECT_NE(ExpectedResult(op), proto::Reply::RESULT_NOT_SET) << oneof->field(i)->name();
    }
  }
  EXPECT_EQ(one_way, 3);
}

TEST(BrokerWireRulesTest, OnlyOpenAndCreateRepliesCarryAnFd) {
  const auto* oneof = proto::Reply::descriptor()->FindOneofByName("result");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    proto::Reply reply;
    reply.set_id(1);
    const auto* field = oneof->field(i);
    reply.GetReflection()->MutableMessage(&reply, field);
    const bool carries = field->name() == "open" || field->name() == "create";
    EXPECT_EQ(ReplyFdCount(reply), carries ? 1 : 0) << field->name();
    reply.set_error(EIO);
    EXPECT_EQ(ReplyFdCount(reply), 0);
  }
}

}  // namespace
}  // namespace virtiofsd
