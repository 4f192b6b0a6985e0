#include "common/launcher_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status_matchers.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

struct Link {
  UniqueFd launcher;
  UniqueFd child;
};

Link MakeLink() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A channel handed over on the link reaches the watch's callback, working; what
// else arrives (a frame without an fd, one with two) is dropped and its fds closed.
TEST(LauncherLinkTest, HandedOverChannelReachesTheCallbackAndNothingElseDoes) {
  Link link = MakeLink();
  absl::Mutex mu;
  std::vector<UniqueFd> received;
  std::optional<OrphanWatch> watch;
  watch.emplace(link.child.get(), -1, [&](UniqueFd channel) {
    absl::MutexLock lock(&mu);
    received.push_back(std::move(channel));
  });

  // Not a handover: bytes alone, and the tag with two fds.
  ASSERT_EQ(send(link.launcher.get(), "broker-channel", 15, 0), 15);
  int stray[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, stray), 0);
  UniqueFd stray_ends[] = {UniqueFd(stray[0]), UniqueFd(stray[1])};
  {
    char tag[] = "broker-channel";
    iovec iov = {tag, sizeof(tag)};
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), stray, sizeof(stray));
    ASSERT_GT(sendmsg(link.launcher.get(), &msg, 0), 0);
  }

  int channel[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel), 0);
  UniqueFd ours(channel[0]);
  UniqueFd theirs(channel[1]);
  ASSERT_OK(HandOverChannel(link.launcher.get(), theirs.get()));
  theirs.Reset();
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(
                            +[](std::vector<UniqueFd>* r) { return !r->empty(); }, &received),
                        absl::Seconds(10));
    ASSERT_EQ(received.size(), 1u);
    // The received end talks to ours.
    ASSERT_EQ(send(received[0].get(), "x", 1, 0), 1);
  }
  char byte;
  EXPECT_EQ(recv(ours.get(), &byte, 1, 0), 1);
  // The stray fds were closed: the other end of the stray pair reads as closed once
  // the test's copy is gone too.
  stray_ends[0].Reset();
  EXPECT_EQ(recv(stray_ends[1].get(), &byte, 1, MSG_DONTWAIT), 0);
  watch.reset();  // disarmed: the launcher's end closing now must not end the test
  link.launcher.Reset();
}

}  // namespace
}  // namespace virtiofsd
