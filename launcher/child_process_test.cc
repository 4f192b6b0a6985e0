#include "launcher/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/testing/child_report.h"

namespace virtiofsd {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using ::virtiofsd::testing::AbstractListener;
using ::virtiofsd::testing::MakeTempDir;
using ::virtiofsd::testing::RemoveTempDir;
using ::virtiofsd::testing::ReportValues;
using ::virtiofsd::testing::Runfile;
using ::virtiofsd::testing::WaitForReport;

// Waits for the child to end (at most 10 s).
std::optional<ChildExit> WaitForExit(ChildProcess& child) {
  pollfd pfd = {child.pidfd(), POLLIN, 0};
  poll(&pfd, 1, 10000);
  return child.TryReap();
}

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    report_dir_ = MakeTempDir();
    setenv("FAKE_CHILD_REPORT_DIR", report_dir_.c_str(), 1);
  }
  void TearDown() override {
    RemoveTempDir(report_dir_);
    unsetenv("FAKE_CHILD_REPORT_DIR");
    unsetenv("FAKE_FRONTEND_MODE");
    unsetenv("FAKE_BROKER_MODE");
  }
  std::string report_dir_;
  const std::string fake_ = Runfile("launcher/fake_child");
};

TEST_F(ChildProcessTest, ChildGetsExactlyTheMappedFds) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd ours(pair[0]), theirs(pair[1]);
  UniqueFd listener = AbstractListener();
  // An fd without O_CLOEXEC, as a careless parent might leave: must not leak.
  UniqueFd stray(open("/dev/null", O_RDONLY));

  const FdMapping fds[] = {{theirs.get(), 3}, {listener.get(), 4}};
  ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Spawn(fake_, {"--fd=4", "x y"}, fds));
  std::vector<std::string> report = WaitForReport(report_dir_, "frontend");
  EXPECT_THAT(ReportValues(report, "arg"), ElementsAre("--fd=4", "x y"));
  EXPECT_THAT(ReportValues(report, "fd"), UnorderedElementsAre("0", "1", "2", "3", "4"));
  EXPECT_THAT(ReportValues(report, "channel_seqpacket"), ElementsAre("1"));
  EXPECT_THAT(ReportValues(report, "fd4_listening"), ElementsAre("1"));
  EXPECT_THAT(ReportValues(report, "own_process_group"), ElementsAre("1"));
  EXPECT_THAT(ReportValues(report, "pid"), ElementsAre(std::to_string(child.pid())));
}

TEST_F(ChildProcessTest, ChildStartsWithNoSignalBlocked) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, &old), 0);
  absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(fake_, {}, {});
  sigprocmask(SIG_SETMASK, &old, nullptr);
  ASSERT_OK(child);
  EXPECT_THAT(ReportValues(WaitForReport(report_dir_, "broker"), "signals_blocked"),
              ElementsAre("0"));
}

TEST_F(ChildProcessTest, TargetsMaySwapTheSourcesNumbers) {
  // Source of target 3 is the fd that will be 4 and vice versa: no clobbering.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  // Park everything far above 3 and 4, which the test then places by hand.
  const auto high = [](int fd) {
    UniqueFd low(fd);
    return UniqueFd(fcntl(low.get(), F_DUPFD_CLOEXEC, 100));
  };
  UniqueFd a = high(pair[0]), b = high(pair[1]);
  UniqueFd listener = high(AbstractListener().Release());
  if (fcntl(3, F_GETFD) != -1 || fcntl(4, F_GETFD) != -1) GTEST_SKIP() << "fds 3/4 in use";
  UniqueFd channel_at_4(dup3(a.get(), 4, O_CLOEXEC));
  UniqueFd listener_at_3(dup3(listener.get(), 3, O_CLOEXEC));
  ASSERT_EQ(channel_at_4.get(), 4);
  ASSERT_EQ(listener_at_3.get(), 3);
  const FdMapping fds[] = {{channel_at_4.get(), 3}, {listener_at_3.get(), 4}};
  ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Spawn(fake_, {"--fd=4"}, fds));
  std::vector<std::string> report = WaitForReport(report_dir_, "frontend");
  EXPECT_THAT(ReportValues(report, "channel_seqpacket"), ElementsAre("1"));
  EXPECT_THAT(ReportValues(report, "fd4_listening"), ElementsAre("1"));
}

TEST_F(ChildProcessTest, ReportsHowTheChildEnded) {
  setenv("FAKE_BROKER_MODE", "exit:5", 1);
  ASSERT_OK_AND_ASSIGN(ChildProcess exits, ChildProcess::Spawn(fake_, {}, {}));
  std::optional<ChildExit> exit = WaitForExit(exits);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->kind, ChildExit::Kind::kExited);
  EXPECT_EQ(exit->value, 5);
  EXPECT_EQ(exits.TryReap()->value, 5);  // idempotent

  setenv("FAKE_BROKER_MODE", "stubborn", 1);
  ASSERT_OK_AND_ASSIGN(ChildProcess killed, ChildProcess::Spawn(fake_, {}, {}));
  EXPECT_FALSE(killed.TryReap().has_value());
  killed.Signal(SIGKILL);
  exit = WaitForExit(killed);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->kind, ChildExit::Kind::kKilled);
  EXPECT_EQ(exit->value, SIGKILL);
}

TEST_F(ChildProcessTest, ExecFailureIsReportedWithItsErrno) {
  EXPECT_THAT(ChildProcess::Spawn("/nonexistent/virtiofsd-broker", {}, {}),
              testing::HasErrno(ENOENT));
  EXPECT_THAT(ChildProcess::Spawn("/dev/null", {}, {}), testing::HasErrno(EACCES));
}

TEST_F(ChildProcessTest, BadTargetIsRefused) {
  UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const FdMapping onto_stderr[] = {{fd.get(), 2}};
  EXPECT_THAT(ChildProcess::Spawn(fake_, {}, onto_stderr), testing::HasErrno(EBADF));
}

TEST_F(ChildProcessTest, DestroyingARunningChildKillsAndReapsIt) {
  setenv("FAKE_BROKER_MODE", "stubborn", 1);
  pid_t pid;
  {
    ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Spawn(fake_, {}, {}));
    pid = child.pid();
    ASSERT_EQ(kill(pid, 0), 0);
  }
  EXPECT_NE(kill(pid, 0), 0);  // gone and reaped: no zombie left
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace virtiofsd
