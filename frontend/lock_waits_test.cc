#include "frontend/lock_waits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAre;

TEST(LockWaitsTest, EveryEntryEndsWhateverTheReplyAndTheTableIsBounded) {
  LockWaits waits;
  // A reply (or a failed send) before Attach(): the entry is gone, Attach is a no-op.
  std::optional<uint64_t> early = waits.Begin(7, 1);
  ASSERT_TRUE(early.has_value());
  waits.End(*early);
  EXPECT_FALSE(waits.Attach(*early, 100));
  EXPECT_EQ(waits.Interrupt(7), std::nullopt);
  EXPECT_EQ(waits.size(), 0u);

  // Refused requests leave nothing behind, however many.
  for (uint64_t unique = 0; unique < 100000; ++unique) {
    std::optional<uint64_t> token = waits.Begin(unique, 1);
    ASSERT_TRUE(token.has_value());
    waits.Attach(*token, unique + 1);
    waits.End(*token);
  }
  EXPECT_EQ(waits.size(), 0u);

  // In flight at once: at most kMaxLockWaits.
  for (size_t i = 0; i < kMaxLockWaits; ++i) ASSERT_TRUE(waits.Begin(i, 1).has_value());
  EXPECT_EQ(waits.Begin(999, 1), std::nullopt);
  EXPECT_EQ(waits.size(), kMaxLockWaits);
}

TEST(LockWaitsTest, InterruptBeforeTheIdIsKnownIsSentOnAttach) {
  LockWaits waits;
  std::optional<uint64_t> token = waits.Begin(5, 1);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(waits.Interrupt(5), std::nullopt);  // no id yet
  EXPECT_TRUE(waits.Attach(*token, 42));        // so Attach says: interrupt now
  EXPECT_THAT(waits.Interrupt(5), Optional(42u));
  EXPECT_EQ(waits.Interrupt(6), std::nullopt);
}

TEST(LockWaitsTest, QueueStopEndsOnlyThatQueuesWaits) {
  LockWaits waits;
  std::optional<uint64_t> a = waits.Begin(1, 1), b = waits.Begin(2, 2), c = waits.Begin(3, 1);
  ASSERT_TRUE(a && b && c);
  waits.Attach(*a, 10);
  waits.Attach(*b, 20);
  EXPECT_THAT(waits.EndQueue(1), ElementsAre(10u));
  EXPECT_TRUE(waits.Attach(*c, 30));  // queue 1 stopped before c was sent
  EXPECT_THAT(waits.EndQueue(3), IsEmpty());
  EXPECT_EQ(waits.size(), 3u);  // entries end with their replies
}

TEST(LockWaitsTest, EndAllDetachesTheOldSessionsWaitsFromTheirUniques) {
  LockWaits waits;
  std::optional<uint64_t> old_wait = waits.Begin(9, 1);
  ASSERT_TRUE(old_wait.has_value());
  waits.Attach(*old_wait, 90);
  std::optional<uint64_t> other = waits.Begin(8, 2);
  ASSERT_TRUE(other.has_value());
  EXPECT_THAT(waits.EndAll(), UnorderedElementsAre(90u));
  EXPECT_TRUE(waits.Attach(*other, 80));
  // The new session reuses unique 9: its INTERRUPT names the new wait only.
  std::optional<uint64_t> new_wait = waits.Begin(9, 1);
  ASSERT_TRUE(new_wait.has_value());
  EXPECT_FALSE(waits.Attach(*new_wait, 91));
  EXPECT_THAT(waits.Interrupt(9), Optional(91u));
}

}  // namespace
}  // namespace virtiofsd
