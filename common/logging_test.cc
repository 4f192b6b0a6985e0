#include "common/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(LoggingTest, ParsesTheRustDaemonsLevelNames) {
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("trace"), LogLevel::kTrace);
  EXPECT_EQ(ParseLogLevel("off"), LogLevel::kOff);
  EXPECT_EQ(ParseLogLevel("verbose"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
  EXPECT_EQ(ParseLogLevel("INFO"), std::nullopt);
  for (LogLevel level : {LogLevel::kOff, LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo,
                         LogLevel::kDebug, LogLevel::kTrace}) {
    EXPECT_EQ(ParseLogLevel(NameOf(level)), level);
  }
}

TEST(LoggingTest, ThresholdSelectsLevels) {
  InitLogging("test", LogLevel::kWarn);
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  InitLogging("test", LogLevel::kOff);
  EXPECT_FALSE(LogEnabled(LogLevel::kError));
  EXPECT_FALSE(LogEnabled(LogLevel::kOff));
}

// Runs `log` with stderr redirected to a pipe and returns what it wrote.
template <typename F>
std::string CaptureStderr(F log) {
  int pipe_fds[2];
  EXPECT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  int saved = dup(STDERR_FILENO);
  dup2(pipe_fds[1], STDERR_FILENO);
  log();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(pipe_fds[1]);
  std::string out(4096, '\0');
  ssize_t n = read(pipe_fds[0], out.data(), out.size());
  close(pipe_fds[0]);
  out.resize(n > 0 ? n : 0);
  return out;
}

TEST(LoggingTest, WritesOneLineWithProgramAndLevel) {
  InitLogging("frontend", LogLevel::kInfo);
  std::string out = CaptureStderr([] {
    VFSD_LOG(kWarn, "queue %d stalled", 3);
    VFSD_LOG(kDebug, "not shown");
  });
  EXPECT_NE(out.find("frontend["), std::string::npos) << out;
  EXPECT_NE(out.find("WARN queue 3 stalled\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("not shown"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

}  // namespace
}  // namespace virtiofsd
