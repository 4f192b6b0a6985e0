#include "tests/driver/vhost_user_channel.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cstring>

#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::driver {
namespace {

using ::virtiofsd::testing::OpenFds;
using ::virtiofsd::testing::StatusIs;

class VhostUserChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    channel_ = std::make_unique<VhostUserChannel>(UniqueFd(pair[0]), absl::Milliseconds(200));
    peer_.Reset(pair[1]);
  }

  // The back-end's side: one message written by hand.
  void PeerSend(uint32_t request, uint32_t flags, const std::string& payload,
                std::vector<int> fds = {}) {
    VhostUserChannel raw(UniqueFd(dup(peer_.get())), absl::Seconds(1));
    ASSERT_OK(raw.Send(request, flags, payload, fds));
  }

  std::unique_ptr<VhostUserChannel> channel_;
  UniqueFd peer_;
};

TEST_F(VhostUserChannelTest, SendWritesHeaderPayloadAndFds) {
  UniqueFd event(eventfd(0, EFD_CLOEXEC));
  const uint64_t index = 1;
  const int fds[] = {event.get()};
  ASSERT_OK(channel_->Send(kSetVringKick, kVhostUserVersion,
                           std::string(reinterpret_cast<const char*>(&index), 8), fds));
  char buffer[64];
  iovec iov{buffer, sizeof(buffer)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(recvmsg(peer_.get(), &msg, MSG_CMSG_CLOEXEC), 20);
  VhostUserHeader header;
  memcpy(&header, buffer, sizeof(header));
  EXPECT_EQ(header.request, kSetVringKick);
  EXPECT_EQ(header.flags, kVhostUserVersion);
  EXPECT_EQ(header.size, 8u);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(cmsg, nullptr);
  int received;
  memcpy(&received, CMSG_DATA(cmsg), sizeof(int));
  UniqueFd owned(received);
  EXPECT_GE(received, 0);
}

TEST_F(VhostUserChannelTest, CallReturnsTheReplyWithItsFds) {
  const std::set<int> before = OpenFds();
  {
    UniqueFd a(eventfd(0, EFD_CLOEXEC)), b(eventfd(0, EFD_CLOEXEC));
    PeerSend(kGetFeatures, kVhostUserVersion | kVhostUserReplyFlag, std::string(8, '\x11'),
             {a.get(), b.get()});
  }
  ASSERT_OK_AND_ASSIGN(VhostUserMessage reply, channel_->Call(kGetFeatures, kVhostUserVersion, ""));
  EXPECT_EQ(reply.payload, std::string(8, '\x11'));
  EXPECT_EQ(reply.fds.size(), 2u);
  reply.fds.clear();
  EXPECT_EQ(OpenFds(), before) << "received fds are owned by the message";
}

TEST_F(VhostUserChannelTest, CallRejectsAReplyToAnotherRequest) {
  PeerSend(kGetQueueNum, kVhostUserVersion | kVhostUserReplyFlag, std::string(8, 0));
  EXPECT_THAT(channel_->Call(kGetFeatures, kVhostUserVersion, ""),
              StatusIs(absl::StatusCode::kDataLoss));
  PeerSend(kGetFeatures, kVhostUserVersion, std::string(8, 0));  // reply flag missing
  EXPECT_THAT(channel_->Call(kGetFeatures, kVhostUserVersion, ""),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(VhostUserChannelTest, SilenceTimesOutAndHangUpIsUnavailable) {
  EXPECT_THAT(channel_->Receive(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Half a header, then the back-end goes away.
  ASSERT_EQ(write(peer_.get(), "abcdef", 6), 6);
  peer_.Reset();
  EXPECT_THAT(channel_->Receive(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(VhostUserChannelTest, OversizedPayloadIsDataLoss) {
  VhostUserHeader header{kGetConfig, kVhostUserVersion | kVhostUserReplyFlag, 1 << 20};
  ASSERT_EQ(write(peer_.get(), &header, sizeof(header)), static_cast<ssize_t>(sizeof(header)));
  EXPECT_THAT(channel_->Receive(), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace virtiofsd::driver
