#include "broker/nofile_limit.h"

#include <sys/resource.h>
#include <unistd.h>

#include <string>

#include "common/logging.h"
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

// With the hard limit at 256, asks for 4096: exits 0 when the soft limit became 256
// and one warning named the shortfall.
void RaiseBeyondALowHardLimit() {
  rlimit low = {256, 256};
  if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(3);
  InitLogging("test", LogLevel::kInfo);
  std::string logged;
  SetLogSink([&logged](LogLevel level, absl::string_view line) {
    if (level == LogLevel::kWarn) logged.append(line.data(), line.size());
  });
  absl::StatusOr<uint64_t> limit = RaiseNofileLimit(4096);
  const bool named = logged.find("RLIMIT_NOFILE is 256, below the 4096") != std::string::npos;
  _exit(limit.ok() && *limit == 256 && named ? 0 : 1);
}

// Lowering the hard limit cannot be undone, so it happens in a child.
TEST(RaiseNofileLimitTest, WarnsWhenTheHardLimitFallsShort) {
  EXPECT_EXIT(RaiseBeyondALowHardLimit(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace virtiofsd
