#include "common/channel/broker_wire.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::IsOkAndHolds;
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

  // Puts `message` into frame_ as it arrives from the peer, in a batch of one, with
  // `fd_count` fds.
  void Deliver(const google::protobuf::MessageLite& message, int fd_count = 0) {
    Deliver(Batched(message), fd_count);
  }
  // `message` as the one entry of a RequestBatch or ReplyBatch.
  static std::string Batched(const google::protobuf::MessageLite& message) {
    const std::string bytes = message.SerializeAsString();
    std::string batch("\x0a");
    for (size_t n = bytes.size(); true; n >>= 7) {
      batch.push_back(static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80));
      if (n < 0x80) break;
    }
    return batch + bytes;
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

TEST_F(BrokerWireTest, BatchFramesAreTheProtosBatches) {
  BatchFrame requests;
  for (uint64_t id : {5, 6, 7}) ASSERT_THAT(requests.Append(Lookup(id)), IsOkAndHolds(true));
  EXPECT_EQ(requests.count(), 3u);
  ASSERT_OK(requests.Send(*a_));
  EXPECT_TRUE(requests.empty());
  ASSERT_OK(b_->Receive(frame_));
  proto::RequestBatch parsed;  // what any protobuf reader makes of the frame
  ASSERT_TRUE(parsed.ParseFromArray(frame_.bytes().data(), frame_.bytes().size()));
  ASSERT_EQ(parsed.requests_size(), 3);
  EXPECT_EQ(parsed.requests(2).id(), 7u);
  ASSERT_OK_AND_ASSIGN(proto::RequestBatch batch, DecodeRequests(frame_));
  ASSERT_EQ(batch.requests_size(), 3);
  EXPECT_EQ(batch.requests(0).id(), 5u);
  EXPECT_EQ(batch.requests(1).lookup().name(), "file");
}

TEST_F(BrokerWireTest, ABatchWithOneBadRequestIsRefused) {
  proto::RequestBatch batch;
  *batch.add_requests() = Lookup(5);
  *batch.add_requests() = Lookup(0);  // needs an id
  Deliver(batch.SerializeAsString());
  EXPECT_THAT(DecodeRequests(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, EmptyBatchesAreRefused) {
  // An empty message serialises to no bytes, and a frame is never empty: a batch
  // with only an unknown field stands for it.
  Deliver(std::string("\x10\x01", 2));
  EXPECT_THAT(DecodeRequests(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  Deliver(std::string("\x10\x01", 2));
  EXPECT_THAT(DecodeReplies(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, DecodeRequestWantsExactlyOne) {
  BatchFrame two;
  ASSERT_THAT(two.Append(Lookup(5)), IsOkAndHolds(true));
  ASSERT_THAT(two.Append(Lookup(6)), IsOkAndHolds(true));
  ASSERT_OK(two.Send(*a_));
  ASSERT_OK(b_->Receive(frame_));
  EXPECT_THAT(DecodeRequest(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, ABatchOfRepliesHandsEachItsOwnFd) {
  // Replies 1 and 3 carry files of sizes 1 and 3; reply 2 carries none.
  int first = memfd_create("first", MFD_CLOEXEC);
  int third = memfd_create("third", MFD_CLOEXEC);
  ASSERT_EQ(ftruncate(first, 1), 0);
  ASSERT_EQ(ftruncate(third, 3), 0);
  proto::Reply attr;
  attr.set_id(2);
  attr.mutable_attr();
  BatchFrame replies;
  ASSERT_THAT(replies.Append(OpenReply(1), first), IsOkAndHolds(true));
  ASSERT_THAT(replies.Append(attr), IsOkAndHolds(true));
  ASSERT_THAT(replies.Append(OpenReply(3), third), IsOkAndHolds(true));
  ASSERT_OK(replies.Send(*a_));
  close(first);
  close(third);
  ASSERT_OK(b_->Receive(frame_));
  ASSERT_OK_AND_ASSIGN(std::vector<BrokerResponse> responses, DecodeReplies(frame_));
  ASSERT_EQ(responses.size(), 3u);
  struct stat st;
  ASSERT_EQ(fstat(responses[0].fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 1);
  EXPECT_FALSE(responses[1].fd.valid());
  ASSERT_EQ(fstat(responses[2].fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 3);
}

TEST_F(BrokerWireTest, ABatchOfRepliesWithTooFewFdsIsRefused) {
  proto::ReplyBatch batch;
  *batch.add_replies() = OpenReply(1);
  *batch.add_replies() = OpenReply(2);
  Deliver(batch.SerializeAsString(), 1);
  EXPECT_THAT(DecodeReplies(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, ABatchFrameEndsAtTheFdAndByteLimits) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  BatchFrame by_fds;
  for (size_t i = 1; i <= kMaxFdsPerFrame; ++i) {
    ASSERT_THAT(by_fds.Append(OpenReply(i), fd), IsOkAndHolds(true));
  }
  EXPECT_THAT(by_fds.Append(OpenReply(99), fd), IsOkAndHolds(false));
  proto::Reply attr;
  attr.set_id(100);
  attr.mutable_attr();
  EXPECT_THAT(by_fds.Append(attr), IsOkAndHolds(true));  // takes no fd
  close(fd);

  proto::Request big = Lookup(1);
  big.mutable_lookup()->set_name(std::string(kMaxFrameBytes / 3, 'n'));
  BatchFrame by_bytes;
  EXPECT_THAT(by_bytes.Append(big), IsOkAndHolds(true));
  EXPECT_THAT(by_bytes.Append(big), IsOkAndHolds(true));
  EXPECT_THAT(by_bytes.Append(big), IsOkAndHolds(false));
  EXPECT_EQ(by_bytes.count(), 2u);
  ASSERT_OK(by_bytes.Send(*a_));  // what it holds fits a frame
  ASSERT_OK(b_->Receive(frame_));
  ASSERT_OK_AND_ASSIGN(proto::RequestBatch batch, DecodeRequests(frame_));
  EXPECT_EQ(batch.requests_size(), 2);

  big.mutable_lookup()->set_name(std::string(kMaxMessageBytes, 'n'));
  EXPECT_THAT(by_bytes.Append(big), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerWireTest, RepliesThatLostTheirFdsDecodeWithoutThem) {
  proto::Reply attr;
  attr.set_id(2);
  attr.mutable_attr();
  proto::ReplyBatch batch;
  *batch.add_replies() = OpenReply(1);
  *batch.add_replies() = attr;
  Deliver(batch.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(std::vector<proto::Reply> replies, DecodeRepliesThatLostTheirFds(frame_));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].open().handle(), 7u);
  EXPECT_EQ(replies[1].id(), 2u);
  // A batch in which no reply carries an fd cannot have lost one.
  Deliver(attr);
  EXPECT_THAT(DecodeRepliesThatLostTheirFds(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BrokerWireRulesTest, SlowOperationsTravelAlone) {
  EXPECT_TRUE(TravelsAlone(proto::Request::kFsync));
  EXPECT_TRUE(TravelsAlone(proto::Request::kSyncfs));
  EXPECT_FALSE(TravelsAlone(proto::Request::kGetattr));
  EXPECT_FALSE(TravelsAlone(proto::Request::kLookup));
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
