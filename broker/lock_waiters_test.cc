#include "broker/lock_waiters.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(LockWaitersTest, RunsTheWaitAndReportsItsResult) {
  LockWaiters waiters(4);
  absl::Notification done;
  int result = -1;
  ASSERT_EQ(waiters.Start(
                1, [] { return 0; },
                [&](int err) {
                  result = err;
                  done.Notify();
                }),
            0);
  done.WaitForNotification();
  EXPECT_EQ(result, 0);
}

// A wait that blocks in a real syscall until interrupted: read() on an empty pipe.
TEST(LockWaitersTest, InterruptEndsABlockedWaitWithEintr) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  LockWaiters waiters(4);
  absl::Notification done;
  int result = -1;
  ASSERT_EQ(waiters.Start(
                7,
                [&] {
                  char c;
                  return read(fds[0], &c, 1) < 0 ? errno : 0;
                },
                [&](int err) {
                  result = err;
                  done.Notify();
                }),
            0);
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  waiters.Interrupt(99);  // Unknown: ignored.
  waiters.Interrupt(7);
  done.WaitForNotification();
  EXPECT_EQ(result, EINTR);
  close(fds[0]);
  close(fds[1]);
}

TEST(LockWaitersTest, AnInterruptThatArrivesFirstStillCounts) {
  LockWaiters waiters(4);
  waiters.Interrupt(5);
  absl::Notification done;
  int result = -1;
  bool waited = false;
  ASSERT_EQ(waiters.Start(
                5,
                [&] {
                  waited = true;
                  return 0;
                },
                [&](int err) {
                  result = err;
                  done.Notify();
                }),
            0);
  done.WaitForNotification();
  EXPECT_EQ(result, EINTR);
  EXPECT_FALSE(waited);
}

TEST(LockWaitersTest, TooManyWaitersGetEnolck) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::atomic<int> finished{0};
  {
    LockWaiters waiters(1);
    auto blocking = [&] {
      char c;
      return read(fds[0], &c, 1) < 0 ? errno : 0;
    };
    EXPECT_EQ(waiters.Start(1, blocking, [&](int) { ++finished; }), 0);
    EXPECT_EQ(waiters.Start(2, blocking, [&](int) { ++finished; }), ENOLCK);
  }  // The destructor interrupts the waiter.
  EXPECT_EQ(finished.load(), 1);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace virtiofsd
