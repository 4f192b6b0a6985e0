// The builder itself, proven in forked children (death tests): a syscall left off
// the list kills, traps or is logged per the default action, a listed one runs,
// argument conditions and errno rules hold, and kNone installs nothing.

#include "common/seccomp_builder.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// Builds and installs `builder` or exits 99: the death tests' common first step.
void InstallOrExit(SeccompBuilder& builder) {
  absl::StatusOr<SeccompFilter> filter = builder.Build();
  if (!filter.ok() || !filter->Install().ok()) _exit(99);
}

TEST(SeccompBuilderDeathTest, KillActionKillsOnAnUnlistedSyscall) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group)});
        InstallOrExit(builder);
        syscall(SYS_getppid);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

TEST(SeccompBuilderDeathTest, AllowedSyscallRuns) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group), SCMP_SYS(getppid)});
        InstallOrExit(builder);
        _exit(syscall(SYS_getppid) > 0 ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

void ExitOnSigsys(int) { _exit(42); }

TEST(SeccompBuilderDeathTest, TrapActionRaisesSigsysInTheCaller) {
  EXPECT_EXIT(
      {
        signal(SIGSYS, ExitOnSigsys);
        SeccompBuilder builder(SeccompAction::kTrap);
        builder.Allow({SCMP_SYS(exit_group)});
        InstallOrExit(builder);
        syscall(SYS_getppid);
        _exit(0);
      },
      ::testing::ExitedWithCode(42), "");
}

TEST(SeccompBuilderDeathTest, LogActionLetsTheSyscallRun) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kLog);
        builder.Allow({SCMP_SYS(exit_group)});
        InstallOrExit(builder);
        _exit(syscall(SYS_getppid) > 0 ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(SeccompBuilderDeathTest, NoneInstallsNothing) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kNone);
        builder.Allow({SCMP_SYS(exit_group)});
        InstallOrExit(builder);
        _exit(prctl(PR_GET_SECCOMP) == 0 && syscall(SYS_getppid) > 0 ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(SeccompBuilderDeathTest, ArgumentConditionAllowsOnlyWhatItNames) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group)})
            .AllowIf(SCMP_SYS(fcntl), {SCMP_A1(SCMP_CMP_EQ, F_GETFD)});
        InstallOrExit(builder);
        if (fcntl(0, F_GETFD) < 0 && errno != EBADF) _exit(1);
        fcntl(0, F_GETFL);  // Not F_GETFD: killed here.
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group)})
            .AllowIf(SCMP_SYS(fcntl), {SCMP_A1(SCMP_CMP_EQ, F_GETFD)});
        InstallOrExit(builder);
        _exit(fcntl(0, F_GETFD) >= 0 || errno == EBADF ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(SeccompBuilderDeathTest, FailReturnsTheErrno) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group)}).Fail(SCMP_SYS(openat), EACCES);
        InstallOrExit(builder);
        _exit(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY) == -1 && errno == EACCES ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(SeccompBuilderDeathTest, ThreadsButNoProcesses) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group)}).AllowThreadsOnly();
        InstallOrExit(builder);
        if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) _exit(1);
        syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);  // fork(): killed here.
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

TEST(SeccompBuilderDeathTest, SignalsOnlyToOwnThreads) {
  EXPECT_EXIT(
      {
        SeccompBuilder builder(SeccompAction::kKill);
        builder.Allow({SCMP_SYS(exit_group), SCMP_SYS(getpid), SCMP_SYS(gettid)})
            .AllowSignalsToOwnThreads();
        InstallOrExit(builder);
        if (syscall(SYS_tgkill, getpid(), gettid(), 0) != 0) _exit(1);
        syscall(SYS_tgkill, 1, 1, 0);  // Another process: killed here.
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

TEST(SeccompBuilderTest, ReportsTheFirstBadRule) {
  SeccompBuilder builder(SeccompAction::kKill);
  builder.AllowIf(SCMP_SYS(fcntl), {scmp_arg_cmp{7, SCMP_CMP_EQ, 0, 0}});  // No argument 7.
  builder.Allow({SCMP_SYS(getpid)});
  absl::StatusOr<SeccompFilter> filter = builder.Build();
  ASSERT_FALSE(filter.ok());
  EXPECT_NE(filter.status().message().find("fcntl"), absl::string_view::npos)
      << filter.status();
}

}  // namespace
}  // namespace virtiofsd
