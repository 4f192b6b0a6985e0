#include "common/channel/frame_socket.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/status_matchers.h"
#include "common/testing/full_fd_table.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::OpenFds;
using ::virtiofsd::testing::StatusIs;

// Sends a frame with no checks at all, as a hostile peer would.
void SendRaw(int socket, std::string_view bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ASSERT_EQ(sendmsg(socket, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()))
      << strerror(errno);
}

class FrameSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    sender_.emplace(std::move(pair->first));
    receiver_.emplace(std::move(pair->second));
  }

  // Opens `n` fds to send; the test closes them with CloseSent().
  std::vector<int> OpenToSend(int n) {
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    return fds;
  }
  void CloseSent(const std::vector<int>& fds) {
    for (int fd : fds) close(fd);
  }

  std::optional<FrameSocket> sender_;
  std::optional<FrameSocket> receiver_;
  Frame frame_;
};

TEST_F(FrameSocketTest, RoundTripWithoutFds) {
  ASSERT_OK(sender_->Send("hello"));
  ASSERT_OK(receiver_->Receive(frame_));
  EXPECT_EQ(frame_.bytes(), "hello");
  EXPECT_TRUE(frame_.fds().empty());
}

TEST_F(FrameSocketTest, RoundTripOfTheLargestFrame) {
  std::string big(kMaxFrameBytes, 'x');
  std::thread send([&] { EXPECT_OK(sender_->Send(big)); });
  ASSERT_OK(receiver_->Receive(frame_));
  send.join();
  EXPECT_EQ(frame_.bytes(), big);
}

TEST_F(FrameSocketTest, RoundTripWithAnFdThatWorks) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  ASSERT_OK(sender_->Send("pipe", {pipe_fds[1]}));
  close(pipe_fds[1]);
  ASSERT_OK(receiver_->Receive(frame_));
  ASSERT_EQ(frame_.fds().size(), 1u);
  const int received = frame_.fds()[0].get();
  EXPECT_EQ(fcntl(received, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(write(received, "z", 1), 1);
  char c = 0;
  ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'z');
  close(pipe_fds[0]);
}

TEST_F(FrameSocketTest, TryReceiveTakesAQueuedFrameAndNeverWaits) {
  ASSERT_OK_AND_ASSIGN(bool got, receiver_->TryReceive(frame_));
  EXPECT_FALSE(got);  // nothing queued: returns instead of waiting
  EXPECT_TRUE(frame_.bytes().empty());
  std::vector<int> fds = OpenToSend(1);
  ASSERT_OK(sender_->Send("queued", fds));
  CloseSent(fds);
  ASSERT_OK_AND_ASSIGN(got, receiver_->TryReceive(frame_));
  EXPECT_TRUE(got);
  EXPECT_EQ(frame_.bytes(), "queued");
  EXPECT_EQ(frame_.fds().size(), 1u);
  sender_.reset();  // the peer goes
  EXPECT_THAT(receiver_->TryReceive(frame_), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(FrameSocketTest, SendRefusesFramesOutsideTheLimits) {
  EXPECT_THAT(sender_->Send(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(sender_->Send(std::string(kMaxFrameBytes + 1, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<int> fds = OpenToSend(kMaxFdsPerFrame + 1);
  EXPECT_THAT(sender_->Send("x", fds), StatusIs(absl::StatusCode::kInvalidArgument));
  CloseSent(fds);
}

TEST_F(FrameSocketTest, TooManyFdsIsAnErrorAndNoneStayOpen) {
  const std::set<int> before = OpenFds();
  std::vector<int> fds = OpenToSend(kMaxFdsPerFrame + 3);
  SendRaw(sender_->fd(), "x", fds);
  CloseSent(fds);
  EXPECT_THAT(receiver_->Receive(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(frame_.fds().empty());
  EXPECT_EQ(OpenFds(), before);
}

// The kernel drops an fd it cannot install (MSG_CTRUNC): the frame's bytes still
// arrive, so the caller can fail just the request the frame answers.
TEST_F(FrameSocketTest, AnFdThatFindsTheTableFullIsExhaustionAndTheBytesArrive) {
  const std::set<int> before = OpenFds();
  std::vector<int> fds = OpenToSend(1);
  ASSERT_OK(sender_->Send("reply", fds));
  CloseSent(fds);
  {
    ::virtiofsd::testing::FullFdTable full;
    absl::Status received = receiver_->Receive(frame_);
    EXPECT_THAT(received, StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_EQ(ErrnoOf(received), EMFILE);
    EXPECT_EQ(frame_.bytes(), "reply");
    EXPECT_TRUE(frame_.fds().empty());
  }
  EXPECT_EQ(OpenFds(), before);
  ASSERT_OK(sender_->Send("next"));
  ASSERT_OK(receiver_->Receive(frame_));
  EXPECT_EQ(frame_.bytes(), "next");
}

TEST_F(FrameSocketTest, OversizedFrameIsAnErrorAndTheNextFrameStillArrives) {
  const std::set<int> before = OpenFds();
  std::vector<int> fds = OpenToSend(1);
  std::thread send([&] {
    SendRaw(sender_->fd(), std::string(kMaxFrameBytes + 100, 'y'), fds);
    SendRaw(sender_->fd(), "next", {});
  });
  EXPECT_THAT(receiver_->Receive(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
  send.join();
  CloseSent(fds);
  EXPECT_EQ(OpenFds(), before);
  ASSERT_OK(receiver_->Receive(frame_));
  EXPECT_EQ(frame_.bytes(), "next");
}

TEST_F(FrameSocketTest, ForeignControlMessageIsAnError) {
  // SCM_CREDENTIALS sent by a peer that chose to attach them.
  int one = 1;
  ASSERT_EQ(setsockopt(receiver_->fd(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
  ASSERT_OK(sender_->Send("creds"));
  EXPECT_THAT(receiver_->Receive(frame_), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FrameSocketTest, EmptyFrameEndsTheChannel) {
  SendRaw(sender_->fd(), "", {});
  EXPECT_THAT(receiver_->Receive(frame_), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(FrameSocketTest, PeerClosingIsUnavailable) {
  ASSERT_OK(sender_->Send("last"));
  sender_.reset();
  ASSERT_OK(receiver_->Receive(frame_));
  EXPECT_EQ(frame_.bytes(), "last");
  EXPECT_THAT(receiver_->Receive(frame_), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(receiver_->Send("x"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(FrameSocketTest, ShutdownWakesABlockedReceiver) {
  std::thread receive([&] {
    Frame frame;
    EXPECT_THAT(receiver_->Receive(frame), StatusIs(absl::StatusCode::kUnavailable));
  });
  usleep(20 * 1000);
  receiver_->Shutdown();
  receive.join();
}

TEST_F(FrameSocketTest, ConcurrentSendersNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kFrames = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string bytes(1000 + t, static_cast<char>('a' + t));
      for (int i = 0; i < kFrames; ++i) EXPECT_OK(sender_->Send(bytes));
    });
  }
  for (int i = 0; i < kThreads * kFrames; ++i) {
    ASSERT_OK(receiver_->Receive(frame_));
    const size_t t = frame_.bytes().size() - 1000;
    ASSERT_LT(t, static_cast<size_t>(kThreads));
    EXPECT_EQ(frame_.bytes(), std::string(1000 + t, static_cast<char>('a' + t)));
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace virtiofsd
