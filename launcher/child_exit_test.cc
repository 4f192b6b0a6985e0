#include "launcher/child_exit.h"

#include <signal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using Kind = ChildExit::Kind;

constexpr ChildExit Exited(int status) { return {Kind::kExited, status, false}; }
constexpr ChildExit Killed(int signal) { return {Kind::kKilled, signal, false}; }

TEST(ChildExitTest, DescribesExitsAndSignals) {
  EXPECT_EQ(DescribeExit(Exited(3)), "exited with status 3");
  EXPECT_EQ(DescribeExit(Killed(SIGKILL)), "was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeExit({Kind::kKilled, SIGSEGV, true}),
            "was killed by signal 11 (SIGSEGV), core dumped");
  EXPECT_EQ(DescribeExit(Killed(SIGSYS)), "was killed by signal 31 (SIGSYS)");
}

TEST(ChildExitTest, FirstExitVerdicts) {
  struct Case {
    ChildRole role;
    ChildExit exit;
    int exit_code;
    const char* message;
  };
  const Case cases[] = {
      {ChildRole::kFrontend, Exited(0), 0, "frontend exited: the VMM disconnected"},
      {ChildRole::kFrontend, Exited(1), 1, "frontend exited with status 1"},
      {ChildRole::kFrontend, Killed(SIGSYS), 1, "frontend was killed by signal 31 (SIGSYS)"},
      {ChildRole::kBroker, Exited(0), 1,
       "broker exited with status 0 while the frontend was running"},
      {ChildRole::kBroker, Killed(SIGKILL), 1, "broker was killed by signal 9 (SIGKILL)"},
      {ChildRole::kBroker, Exited(2), 2,
       "broker exited with status 2: it rejected its command line"},
      {ChildRole::kFrontend, Exited(2), 2,
       "frontend exited with status 2: it rejected its command line"},
  };
  for (const Case& c : cases) {
    Verdict verdict = JudgeFirstExit(c.role, c.exit);
    EXPECT_EQ(verdict.exit_code, c.exit_code) << c.message;
    EXPECT_EQ(verdict.message, c.message);
  }
}

TEST(ChildExitTest, NothingEndedIsNoVerdict) {
  EXPECT_FALSE(JudgeExits(std::nullopt, std::nullopt).has_value());
}

TEST(ChildExitTest, OneEndedIsItsFirstExitVerdict) {
  std::optional<Verdict> verdict = JudgeExits(std::nullopt, Killed(SIGKILL));
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 1);
  EXPECT_EQ(verdict->message, "broker was killed by signal 9 (SIGKILL)");
  verdict = JudgeExits(Exited(0), std::nullopt);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 0);
}

TEST(ChildExitTest, BothEndedNamesTheCauseFirst) {
  struct Case {
    ChildExit frontend;
    ChildExit broker;
    int exit_code;
    const char* starts_with;
    const char* also;
  };
  const Case cases[] = {
      // The VMM disconnected, then the broker saw the channel close.
      {Exited(0), Exited(0), 0, "frontend exited: the VMM disconnected", ""},
      // The broker was killed; the frontend failed when the channel closed.
      {Exited(1), Killed(SIGKILL), 1, "broker was killed", "the frontend exited with status 1"},
      // The frontend was killed; the broker ended cleanly when the channel closed.
      {Killed(SIGKILL), Exited(0), 1, "frontend was killed", "the broker exited with status 0"},
      {Exited(0), Exited(1), 1, "broker exited with status 1", "frontend exited with status 0"},
      {Exited(1), Exited(0), 1, "frontend exited with status 1", "broker exited with status 0"},
      {Exited(1), Exited(3), 1, "frontend exited with status 1", "broker exited with status 3"},
      // The broker rejected its options; the frontend then lost the channel.
      {Exited(1), Exited(2), 2, "broker exited with status 2", "frontend exited with status 1"},
      {Exited(2), Killed(SIGSYS), 1, "broker was killed by signal 31", "frontend exited with"},
  };
  for (const Case& c : cases) {
    std::optional<Verdict> verdict = JudgeExits(c.frontend, c.broker);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_EQ(verdict->exit_code, c.exit_code) << verdict->message;
    EXPECT_THAT(verdict->message, ::testing::StartsWith(c.starts_with));
    EXPECT_THAT(verdict->message, HasSubstr(c.also));
  }
}

}  // namespace
}  // namespace virtiofsd
