#include "broker/nofile_limit.h"

#include <sys/resource.h>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(NofileTargetTest, StaysBelowFileMax) {
  EXPECT_EQ(NofileTarget(0, 10'000'000), 1'000'000u);
  EXPECT_EQ(NofileTarget(0, 500'000), 500'000u - 16384);
  EXPECT_EQ(NofileTarget(4096, 10'000'000), 4096u);
  EXPECT_EQ(NofileTarget(100'000'000, 10'000'000), 10'000'000u - 16384);
  EXPECT_EQ(NofileTarget(0, 20'000), 10'000u);  // A small host keeps half.
  EXPECT_EQ(NofileTarget(0, 0), 1u);
}

TEST(RaiseNofileLimitTest, SetsTheSoftLimit) {
  ASSERT_OK_AND_ASSIGN(uint64_t limit, RaiseNofileLimit(2048));
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, limit);
  EXPECT_LE(limit, 2048u);
}

}  // namespace
}  // namespace virtiofsd
