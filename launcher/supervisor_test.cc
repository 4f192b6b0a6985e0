#include "launcher/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/channel/frame_socket.h"
#include "common/logging.h"
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

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Lines logged while a test runs (the supervisor logs a broker's end at once).
class LogCapture {
 public:
  LogCapture() {
    SetLogSink([this](LogLevel, absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSink(nullptr); }
  // Waits (10 s at most) for a line containing `text`; returns the number of such lines.
  int WaitFor(const std::string& text) {
    absl::MutexLock lock(&mu_);
    auto count = [&] {
      mu_.AssertHeld();
      return static_cast<int>(
          std::count_if(lines_.begin(), lines_.end(),
                        [&](const std::string& l) { return l.find(text) != std::string::npos; }));
    };
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](decltype(count)* c) { return (*c)() > 0; }, &count),
                         absl::Seconds(10));
    return count();
  }
  std::string All() {
    absl::MutexLock lock(&mu_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

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
    listener_ = AbstractListener();
    const FdMapping broker_fds[] = {{channel->first.fd(), 3}};
    const FdMapping frontend_fds[] = {{channel->second.fd(), 3}, {listener_.get(), 4}};
    auto broker = ChildProcess::Spawn(Runfile("launcher/fake_child"), {}, broker_fds);
    ASSERT_OK(broker);
    broker_.emplace(std::move(*broker));
    auto frontend = ChildProcess::Spawn(Runfile("launcher/fake_child"), {"--fd=4"}, frontend_fds);
    ASSERT_OK(frontend);
    frontend_.emplace(std::move(*frontend));
    ASSERT_FALSE(WaitForReport(report_dir_, "broker").empty());
    ASSERT_FALSE(WaitForReport(report_dir_, "frontend").empty());
  }

  Verdict Run(absl::Duration grace = kGrace, const BrokerRestarts& restarts = {}) {
    return Supervise(*frontend_, *broker_, signal_fd_.get(), grace, restarts);
  }

  // Restarts by a fake broker (FAKE_BROKER_MODE) on a channel of its own whose
  // other end the test keeps; `pids` gets each one's pid.
  BrokerRestarts FakeRestarts(int max, std::vector<pid_t>* pids) {
    BrokerRestarts restarts;
    restarts.max = max;
    restarts.window = absl::Hours(1);
    restarts.respawn = [this, pids]() -> absl::StatusOr<ChildProcess> {
      auto channel = FrameSocket::CreatePair();
      if (!channel.ok()) return channel.status();
      const FdMapping fds[] = {{channel->first.fd(), 3}};
      absl::StatusOr<ChildProcess> child =
          ChildProcess::Spawn(Runfile("launcher/fake_child"), {}, fds);
      if (child.ok()) pids->push_back(child->pid());
      kept_channels_.push_back(std::move(channel->second));
      return child;
    };
    return restarts;
  }

  // Connects to the frontend's listening socket, as a VMM.
  UniqueFd ConnectVmm() {
    sockaddr_storage address = {};
    socklen_t size = sizeof(address);
    EXPECT_EQ(getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &size), 0);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&address), size), 0);
    return fd;
  }

  std::string report_dir_;
  UniqueFd listener_;
  sigset_t saved_mask_;
  UniqueFd signal_fd_;
  std::optional<ChildProcess> broker_;
  std::optional<ChildProcess> frontend_;
  std::vector<FrameSocket> kept_channels_;
};

TEST_F(SupervisorTest, FrontendExitingZeroIsACleanStop) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("exit:0", "wait"));
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 0);
  EXPECT_THAT(verdict.message, HasSubstr("VMM disconnected"));
  EXPECT_TRUE(broker_->TryReap().has_value());
}

// Before a VMM connects, the frontend ends with the broker. Whether both are
// judged together or (on a slow machine) the broker's end is logged first, the
// command fails and says once how the broker ended.
TEST_F(SupervisorTest, KilledBrokerIsNamedAndTheFrontendStopped) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("wait", "wait"));
  LogCapture log;
  broker_->Signal(SIGKILL);
  Verdict verdict = Run();
  EXPECT_EQ(verdict.exit_code, 1);
  const std::string said = log.All() + "\n" + verdict.message;
  EXPECT_EQ(Count(said, "broker was killed by signal 9 (SIGKILL)"), 1) << said;
  EXPECT_TRUE(frontend_->TryReap().has_value());
}

// A frontend serving a VMM outlives the broker: the guest gets EIO from it and
// can shut down, which it could not if the frontend were stopped (QEMU cannot
// reconnect). The command ends when the VMM does, with the broker's verdict.
TEST_F(SupervisorTest, KilledBrokerLeavesAServingFrontendUntilTheVmmGoes) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("serve", "wait"));
  UniqueFd vmm = ConnectVmm();
  LogCapture log;
  broker_->Signal(SIGKILL);
  std::optional<Verdict> verdict;
  std::thread supervisor([&] { verdict = Run(); });
  EXPECT_EQ(log.WaitFor("broker was killed by signal 9 (SIGKILL)"), 1);
  pollfd frontend_ended = {frontend_->pidfd(), POLLIN, 0};
  EXPECT_EQ(poll(&frontend_ended, 1, 0), 0) << "the frontend was stopped with the broker";
  vmm.Reset();  // the VMM goes away
  supervisor.join();
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 1);
  // It ended on its own (a stopped fake frontend exits 0), and the cause was logged once.
  EXPECT_EQ(verdict->message, "frontend exited with status 1 (the broker had ended before)");
  EXPECT_EQ(log.WaitFor("SIGKILL"), 1);
}

TEST_F(SupervisorTest, StopSignalAfterTheBrokerEndedStillFails) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("serve", "wait"));
  UniqueFd vmm = ConnectVmm();
  LogCapture log;
  broker_->Signal(SIGKILL);
  std::optional<Verdict> verdict;
  std::thread supervisor([&] { verdict = Run(); });
  EXPECT_EQ(log.WaitFor("broker was killed"), 1);
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // blocked: waits in the signalfd
  supervisor.join();
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 1);
  EXPECT_EQ(verdict->message,
            "received SIGTERM; stopped both processes (the broker had ended before)");
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

// With restarts, a broker that dies under a served guest is replaced at once; the
// cause and the restart are logged in one line, and the daemon then ends as if
// the broker had never died.
TEST_F(SupervisorTest, KilledBrokerIsReplacedWhileTheFrontendServes) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("serve", "wait"));
  UniqueFd vmm = ConnectVmm();
  LogCapture log;
  std::vector<pid_t> respawned;
  const BrokerRestarts restarts = FakeRestarts(3, &respawned);
  broker_->Signal(SIGKILL);
  std::optional<Verdict> verdict;
  std::thread supervisor([&] { verdict = Run(kGrace, restarts); });
  EXPECT_EQ(log.WaitFor("broker was killed by signal 9 (SIGKILL); started a new broker"), 1);
  pollfd frontend_ended = {frontend_->pidfd(), POLLIN, 0};
  EXPECT_EQ(poll(&frontend_ended, 1, 0), 0) << "the frontend was stopped with the broker";
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);  // blocked: waits in the signalfd
  supervisor.join();
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 0);
  EXPECT_EQ(verdict->message, "received SIGTERM; stopped both processes");
  ASSERT_EQ(respawned.size(), 1u);
  EXPECT_NE(kill(respawned[0], 0), 0) << "the new broker was left running";
  EXPECT_EQ(Count(log.All(), "SIGKILL"), 1) << log.All();
}

// Past `max` restarts within the window, the frontend is left answering EIO as
// without restarts, and the command fails when the VMM goes.
TEST_F(SupervisorTest, RestartsAreBounded) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("serve", "wait"));
  UniqueFd vmm = ConnectVmm();
  LogCapture log;
  std::vector<pid_t> respawned;
  setenv("FAKE_BROKER_MODE", "exit:1", 1);  // each new broker dies at once
  const BrokerRestarts restarts = FakeRestarts(2, &respawned);
  broker_->Signal(SIGKILL);
  std::optional<Verdict> verdict;
  std::thread supervisor([&] { verdict = Run(kGrace, restarts); });
  EXPECT_EQ(log.WaitFor("2 restarts within 1h, no more; the frontend answers the guest with EIO"),
            1)
      << log.All();
  vmm.Reset();
  supervisor.join();
  EXPECT_EQ(respawned.size(), 2u);
  EXPECT_EQ(Count(log.All(), "started a new broker"), 2) << log.All();
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 1);
  EXPECT_EQ(verdict->message, "frontend exited with status 1 (the broker had ended before)");
}

TEST_F(SupervisorTest, FailedRestartLeavesTheFrontendAnsweringEio) {
  ASSERT_NO_FATAL_FAILURE(StartChildren("serve", "wait"));
  UniqueFd vmm = ConnectVmm();
  LogCapture log;
  BrokerRestarts restarts;
  restarts.respawn = []() -> absl::StatusOr<ChildProcess> {
    return absl::UnavailableError("no broker today");
  };
  broker_->Signal(SIGKILL);
  std::optional<Verdict> verdict;
  std::thread supervisor([&] { verdict = Run(kGrace, restarts); });
  EXPECT_EQ(log.WaitFor("cannot start a new broker: no broker today; the frontend answers the "
                        "guest with EIO"),
            1)
      << log.All();
  vmm.Reset();
  supervisor.join();
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(verdict->exit_code, 1);
}

}  // namespace
}  // namespace virtiofsd
