#include "frontend/fuse_locks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::RequestSpec;
using testing::SessionHarness;

fuse_lk_in LockIn(uint64_t fh, uint64_t owner, uint32_t type) {
  fuse_lk_in in{};
  in.fh = fh;
  in.owner = owner;
  in.lk.start = 0;
  in.lk.end = 99;
  in.lk.type = type;
  in.lk.pid = 1;
  return in;
}

class FuseLocksTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = harness_.CreateAndOpen("f", "data", O_RDWR); }

  // Owner 1 takes a write lock through the broker directly.
  void HoldLock(uint32_t type = F_WRLCK) {
    proto::Request request;
    proto::SetlkRequest* setlk = request.mutable_setlk();
    setlk->set_handle(file_.handle);
    setlk->set_lock_owner(1);
    setlk->mutable_lock()->set_end(99);
    setlk->mutable_lock()->set_type(type);
    ASSERT_EQ(harness_.broker().Call(std::move(request)).error, 0);
  }
  // Owner 2 waits for a write lock (SETLKW) on queue `queue`.
  int StartWait(uint64_t unique, int queue = 1) {
    return harness_.Start(&fuse_op::Setlk, {.opcode = FUSE_SETLKW,
                                            .args = Arg(LockIn(file_.handle, 2, F_WRLCK)),
                                            .queue = queue,
                                            .unique = unique});
  }
  // Until `waits` waits are registered.
  void AwaitWaiting(size_t waits) {
    while (harness_.context().lock_waits().size() < waits) usleep(1000);
  }
  // Whether every wait has ended within 10 s (a call ends its wait after its
  // reply is written, so just after the reply it may still be there).
  bool WaitsEnd() {
    for (int i = 0; i < 10000 && harness_.context().lock_waits().size() > 0; ++i) usleep(1000);
    return harness_.context().lock_waits().size() == 0;
  }

  SessionHarness harness_;
  SessionHarness::OpenedFile file_;
};

TEST_F(FuseLocksTest, GetlkReportsTheConflictingLock) {
  FuseReply reply =
      harness_.Call(&fuse_op::Getlk, FUSE_GETLK, file_.node, Arg(LockIn(file_.handle, 2, F_WRLCK)));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_lk_out>().lk.type, static_cast<uint32_t>(F_UNLCK));
  HoldLock();
  reply =
      harness_.Call(&fuse_op::Getlk, FUSE_GETLK, file_.node, Arg(LockIn(file_.handle, 2, F_WRLCK)));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_lk_out>().lk.type, static_cast<uint32_t>(F_WRLCK));
  EXPECT_EQ(reply.As<fuse_lk_out>().lk.end, 99u);
}

TEST_F(FuseLocksTest, SetlkConflictIsEagainAndShortIsEinval) {
  HoldLock();
  EXPECT_EQ(
      harness_.Call(&fuse_op::Setlk, FUSE_SETLK, file_.node, Arg(LockIn(file_.handle, 2, F_WRLCK)))
          .error,
      EAGAIN);
  EXPECT_EQ(harness_.Call(&fuse_op::Setlk, FUSE_SETLK, file_.node, "short").error, EINVAL);
  EXPECT_EQ(harness_.context().lock_waits().size(), 0u);
}

TEST_F(FuseLocksTest, SetlkwGetsTheLockWhenItIsReleased) {
  HoldLock();
  const int wait = StartWait(500);
  AwaitWaiting(1);
  EXPECT_FALSE(harness_.Done(wait));
  HoldLock(F_UNLCK);
  EXPECT_EQ(harness_.Wait(wait).error, 0);
  EXPECT_TRUE(WaitsEnd());
}

TEST_F(FuseLocksTest, InterruptEndsTheWaitItNamesWithEintr) {
  HoldLock();
  const int wait = StartWait(501);
  AwaitWaiting(1);
  fuse_interrupt_in other{502};
  FuseReply interrupt = harness_.Call(&fuse_op::Interrupt, FUSE_INTERRUPT, 0, Arg(other));
  EXPECT_TRUE(interrupt.completed);
  EXPECT_EQ(interrupt.written, 0u);  // INTERRUPT has no reply.
  EXPECT_FALSE(harness_.Done(wait));
  fuse_interrupt_in in{501};
  EXPECT_EQ(harness_.Call(&fuse_op::Interrupt, FUSE_INTERRUPT, 0, Arg(in)).written, 0u);
  EXPECT_EQ(harness_.Wait(wait).error, EINTR);
  EXPECT_TRUE(WaitsEnd());
}

TEST_F(FuseLocksTest, QueueStopEndsOnlyThatQueuesWaits) {
  HoldLock();
  const int on_one = StartWait(600, /*queue=*/1);
  const int on_two = StartWait(601, /*queue=*/2);
  AwaitWaiting(2);
  EndQueueWaits(harness_.context(), 2);
  EXPECT_EQ(harness_.Wait(on_two).error, EINTR);
  EXPECT_FALSE(harness_.Done(on_one));
  EndQueueWaits(harness_.context(), 1);
  EXPECT_EQ(harness_.Wait(on_one).error, EINTR);
  EXPECT_TRUE(WaitsEnd());
}

}  // namespace
}  // namespace virtiofsd
