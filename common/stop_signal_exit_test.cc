#include "common/stop_signal_exit.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(StopSignalExitTest, SigtermEndsTheProcessWith143) {
  EXPECT_EXIT(
      {
        ExitOnStopSignals();
        raise(SIGTERM);
        _exit(0);
      },
      ::testing::ExitedWithCode(128 + SIGTERM), "");
}

TEST(StopSignalExitTest, SigintEndsTheProcessWith130) {
  EXPECT_EXIT(
      {
        ExitOnStopSignals();
        raise(SIGINT);
        _exit(0);
      },
      ::testing::ExitedWithCode(128 + SIGINT), "");
}

}  // namespace
}  // namespace virtiofsd
