#include "launcher/supervisor.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "absl/time/clock.h"
#include "common/frame_socket.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/stop_signals.h"
#include "launcher/testing/child_report.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::virtiofsd::testing::AbstractListener;
using ::virtiofsd::testing::MakeTempDir;
using ::virtiofsd::testing::RemoveTempDir;
using ::virtiofsd::testing::ReportValues;
using ::virtiofsd::testing::Runfile;
using ::virtiofsd::testing::WaitForReport;

constexpr absl::Duration kGrace = absl::Seconds(5);

// Two fake children joined by a channel, as the launcher starts them.
class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    report_dir_ = MakeTempDir();
    setenv("FAKE_CHILD_REPORT_DIR", report_dir_.c_str(), 1);
    sigprocmask(SIG_SETMASK, nullptr, &saved_mask_);
    ASSERT_OK_AND_ASSIGN(signal_fd_, BlockStopSignals());
  }
  void TearDown() override {
    RemoveTempDir(report_dir_);
    sigprocmask(SIG_SETMASK, &saved_mask_, nullptr);
    unsetenv("FAKE_CHILD_REPORT_DIR");
    unsetenv("FAKE_FRONTEND_MODE");
    unsetenv("FAKE_BROKER_MODE");
  }

  // Starts both and waits until both have reported (they run their mode then).
  void StartChildren(const char* frontend_mode, const char* broker_mode) {
    setenv("FAKE_FRONTEND_MODE", frontend_mode, 1);
    setenv("FAKE_BROKER_MODE", broker_mode, 1);
    auto channel = FrameSocket::CreatePair();
    ASSERT_OK(channel);
    UniqueFd listener = AbstractListener();
    const FdMapping broker_fds[] = {{channel->first.fd(), 3}};
    const FdMapping frontend_fds[] = {{channel->second.fd(), 3}, {listener.get(), 4}};
    auto broker = ChildProcess::Spawn(Runfile("launcher/fake_child"), {}, broker_fds);
    ASSERT_OK(broker);
    broker_.emplace(std::move(*broker));
    auto frontend = ChildProcess::Spawn(Runfile("launcher/fake_child"), {"--fd=4"}, frontend_fds);
    ASSERT_OK(frontend);
    frontend_.emplace(std::move(*frontend));
    ASSERT_FALSE(WaitForReport(report_dir_, "broker").empty());
    ASSERT_FALSE(WaitForReport(report_dir_, "frontend").empty());
  }

  Verdict Run(absl::Duration grace = kGrace) {
    return Supervise(*frontend_, *broker_, signal_fd_.get(), grace);
  }

  std::string report_dir_;
  sigset_t saved_mask_;
  UniqueFd signal_fd_;
  std::optional<ChildProcess> broker_;
  std::optional<ChildProcess> frontend_;
};

TEST_F(SupervisorTest, FrontendExitingZeroIsACleanStop) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("exit:0", "wait"));
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 0);
  EXPECT_THAT(verdict.message, HasSubstr("VMM disconnected"));
  EXPECT_TRUE(broker_->TryReap().has_value());
}

TEST_F(SupervisorTest, KilledBrokerIsNamedAndTheFrontendStopped) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("wait", "wait"));
  broker_->Signal(SIGKILL);
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 1);
  EXPECT_THAT(verdict.message, StartsWith("broker was killed by signal 9 (SIGKILL)"));
  EXPECT_TRUE(frontend_->TryReap().has_value());
}

TEST_F(SupervisorTest, KilledFrontendIsNamedAndTheBrokerStopped) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("wait", "wait"));
  frontend_->Signal(SIGKILL);
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 1);
  EXPECT_THAT(verdict.message, StartsWith("frontend was killed by signal 9 (SIGKILL)"));
  EXPECT_TRUE(broker_->TryReap().has_value());
}

TEST_F(SupervisorTest, ChildRejectingItsOptionsGivesTwo) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("wait", "exit:2"));
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 2);
  EXPECT_THAT(verdict.message, StartsWith("broker exited with status 2"));
}

TEST_F(SupervisorTest, StopSignalStopsBothCleanly) {
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) {
    ASSERT_NO_FATAL_FAILURE(StartChildren("wait", "wait"));
    ASSERT_EQ(kill(getpid(), signal), 0);  // blocked: waits in the signalfd
    Verdict verdict = Run();
    EXPECT_EQ(verdict.exit_code, 0) << verdict.message;
    EXPECT_THAT(verdict.message, StartsWith(std::string("received SIG") + sigabbrev_np(signal)));
    EXPECT_TRUE(broker_->TryReap().has_value());
    EXPECT_TRUE(frontend_->TryReap().has_value());
    unlink((report_dir_ + "/broker.report").c_str());
    unlink((report_dir_ + "/frontend.report").c_str());
  }
}

TEST_F(SupervisorTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("exit:0", "stubborn"));
  const absl::Time start = absl::Now();
  Verdict verdict = Run(absl::Milliseconds(200));
  EXPECT_EQ(verdict.exit_code, 0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  std::optional<ChildExit> broker_exit = broker_->TryReap();
  ASSERT_TRUE(broker_exit.has_value());
  EXPECT_EQ(broker_exit->kind, ChildExit::Kind::kKilled);
  EXPECT_EQ(broker_exit->value, SIGKILL);
}

}  // namespace
}  // namespace virtiofsd
