// The serving loop's protocol rules, driven by a frontend that builds frames by
// hand: the handshake comes first and only once, a malformed frame or a frame
// with fds ends the channel (Run() returns kInvalidArgument), closing the
// channel ends Run() with OK, and a caller id the kernel would read as
// "unchanged" is refused. A batch is checked whole before any of it is served,
// served in order, and answered in frames of at most Server::kRepliesPerFrame.

#include "broker/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "broker/testing/test_broker.h"
#include "common/channel/broker_wire.h"
#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    UniqueFd dir(open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    fs_ = *FileSystem::Create(std::move(dir), std::move(proc), FsConfig());
    auto pair = *FrameSocket::CreatePair();
    client_ = std::make_unique<FrameSocket>(std::move(pair.first));
    server_socket_ = std::make_unique<FrameSocket>(std::move(pair.second));
    server_ = std::make_unique<Server>(*server_socket_, *fs_, 3);
    serving_ = std::thread([this] { result_ = server_->Run(); });
  }
  ~ServerTest() override {
    client_->Shutdown();
    if (serving_.joinable()) serving_.join();
  }

  absl::Status Finish() {
    serving_.join();
    return result_;
  }

  proto::Reply Call(proto::Request request) {
    EXPECT_OK(SendRequest(*client_, request));
    Frame frame;
    EXPECT_OK(client_->Receive(frame));
    absl::StatusOr<BrokerResponse> response = DecodeReply(frame);
    EXPECT_OK(response.status());
    return response.ok() ? response->reply : proto::Reply();
  }

  proto::Request Handshake(int version = proto::PROTOCOL_VERSION_CURRENT) {
    proto::Request request;
    request.set_id(1);
    request.mutable_handshake()->set_version(static_cast<proto::ProtocolVersion>(version));
    return request;
  }

  TempDir tmp_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<FrameSocket> client_, server_socket_;
  std::unique_ptr<Server> server_;
  std::thread serving_;
  absl::Status result_;
};

TEST_F(ServerTest, HandshakeThenServeThenCleanClose) {
  proto::Reply reply = Call(Handshake());
  EXPECT_EQ(reply.error(), 0);
  EXPECT_EQ(reply.handshake().version(), proto::PROTOCOL_VERSION_CURRENT);
  proto::Request getattr;
  getattr.set_id(2);
  getattr.mutable_getattr()->set_node(1);
  EXPECT_EQ(Call(getattr).error(), 0);
  client_->Shutdown();
  EXPECT_OK(Finish());
}

TEST_F(ServerTest, RequestBeforeHandshakeEndsTheChannel) {
  proto::Request getattr;
  getattr.set_id(2);
  getattr.mutable_getattr()->set_node(1);
  ASSERT_OK(SendRequest(*client_, getattr));
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, AnotherVersionGetsEprotoAndTheChannelEnds) {
  EXPECT_EQ(Call(Handshake(7)).error(), EPROTO);
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, ASecondHandshakeEndsTheChannel) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  ASSERT_OK(SendRequest(*client_, Handshake()));
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, GarbageEndsTheChannel) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  ASSERT_OK(client_->Send("\x08\x01\xff\xff\xff"));
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, FdsInARequestAreClosedAndEndTheChannel) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  const std::set<int> before = OpenFds();
  proto::Request getattr;
  getattr.set_id(2);
  getattr.mutable_getattr()->set_node(1);
  std::string bytes = getattr.SerializeAsString();
  {
    UniqueFd passed(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int fd = passed.get();
    ASSERT_OK(client_->Send(bytes, {&fd, 1}));
  }
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(OpenFds(), before);
}

TEST_F(ServerTest, CallerIdsMeaningUnchangedAreRefused) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  proto::Request getattr;
  getattr.set_id(2);
  getattr.mutable_getattr()->set_node(1);
  getattr.mutable_caller()->set_uid(~0u);
  EXPECT_EQ(Call(getattr).error(), EINVAL);
  getattr.mutable_caller()->set_uid(0);
  getattr.mutable_caller()->set_gid(~0u);
  EXPECT_EQ(Call(getattr).error(), EINVAL);
}

proto::Request Mkdir(uint64_t id, const std::string& name) {
  proto::Request request;
  request.set_id(id);
  request.mutable_mkdir()->set_parent(1);
  request.mutable_mkdir()->set_name(name);
  request.mutable_mkdir()->set_mode(0755);
  return request;
}

proto::Request Lookup(uint64_t id, const std::string& name) {
  proto::Request request;
  request.set_id(id);
  request.mutable_lookup()->set_parent(1);
  request.mutable_lookup()->set_name(name);
  return request;
}

proto::Request Rmdir(uint64_t id, const std::string& name) {
  proto::Request request;
  request.set_id(id);
  request.mutable_rmdir()->set_parent(1);
  request.mutable_rmdir()->set_name(name);
  return request;
}

TEST_F(ServerTest, ABatchIsServedInOrder) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  BatchFrame batch;
  for (const proto::Request& request :
       {Mkdir(2, "d"), Lookup(3, "d"), Rmdir(4, "d"), Lookup(5, "d")}) {
    ASSERT_THAT(batch.Append(request), IsOkAndHolds(true));
  }
  ASSERT_OK(batch.Send(*client_));
  Frame frame;
  ASSERT_OK(client_->Receive(frame));
  ASSERT_OK_AND_ASSIGN(std::vector<BrokerResponse> replies, DecodeReplies(frame));
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].reply.error(), 0);
  EXPECT_EQ(replies[1].reply.error(), 0);  // after the mkdir
  EXPECT_EQ(replies[2].reply.error(), 0);
  EXPECT_EQ(replies[3].reply.error(), ENOENT);  // after the rmdir
}

TEST_F(ServerTest, ALongBatchIsAnsweredInFramesOfAtMostKRepliesPerFrame) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  constexpr int kRequests = 2 * Server::kRepliesPerFrame + 3;
  BatchFrame batch;
  for (int i = 0; i < kRequests; ++i) {
    proto::Request getattr;
    getattr.set_id(2 + i);
    getattr.mutable_getattr()->set_node(1);
    ASSERT_THAT(batch.Append(getattr), IsOkAndHolds(true));
  }
  ASSERT_OK(batch.Send(*client_));
  std::vector<size_t> frame_sizes;
  uint64_t next_id = 2;
  for (int replies = 0; replies < kRequests;) {
    Frame frame;
    ASSERT_OK(client_->Receive(frame));
    ASSERT_OK_AND_ASSIGN(std::vector<BrokerResponse> responses, DecodeReplies(frame));
    for (const BrokerResponse& response : responses) EXPECT_EQ(response.reply.id(), next_id++);
    frame_sizes.push_back(responses.size());
    replies += responses.size();
  }
  EXPECT_EQ(frame_sizes,
            std::vector<size_t>({Server::kRepliesPerFrame, Server::kRepliesPerFrame, 3}));
}

TEST_F(ServerTest, ABatchWithOneBadRequestEndsTheChannelBeforeAnyOfItRuns) {
  EXPECT_EQ(Call(Handshake()).error(), 0);
  BatchFrame batch;
  ASSERT_THAT(batch.Append(Mkdir(2, "made")), IsOkAndHolds(true));
  ASSERT_THAT(batch.Append(Lookup(0, "made")), IsOkAndHolds(true));  // needs an id
  ASSERT_OK(batch.Send(*client_));
  EXPECT_THAT(Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
  struct stat st;
  EXPECT_NE(stat(tmp_.Path("made").c_str(), &st), 0) << "the batch's first request ran";
}

}  // namespace
}  // namespace virtiofsd::testing
