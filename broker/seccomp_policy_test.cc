// The broker's seccomp policy: one death test per forbidden syscall (the
// process dies of SIGSYS under --seccomp=kill), the other actions, and the
// syscalls the broker needs still working under the filter. The conformance
// suite runs every operation again under the filter (its Seccomp instances).

#include "broker/seccomp_policy.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

struct Forbidden {
  const char* name;
  long nr;
  long args[6];
};

// Syscalls a compromised broker would want and the broker never makes.
const Forbidden kForbidden[] = {
    {"socket", SYS_socket, {AF_INET, SOCK_STREAM, 0}},
    {"socket_unix", SYS_socket, {AF_UNIX, SOCK_STREAM, 0}},
    {"socketpair", SYS_socketpair, {AF_UNIX, SOCK_STREAM, 0, 0}},
    {"connect", SYS_connect, {0, 0, 0}},
    {"bind", SYS_bind, {0, 0, 0}},
    {"execve", SYS_execve, {0, 0, 0}},
    {"execveat", SYS_execveat, {AT_FDCWD, 0, 0, 0, 0}},
    {"ptrace", SYS_ptrace, {PTRACE_TRACEME, 0, 0, 0}},
    {"process_vm_readv", SYS_process_vm_readv, {1, 0, 0, 0, 0, 0}},
    {"mount", SYS_mount, {0, 0, 0, 0, 0}},
    {"umount2", SYS_umount2, {0, 0}},
    {"pivot_root", SYS_pivot_root, {0, 0}},
    {"chroot", SYS_chroot, {0}},
    {"open_by_handle_at", SYS_open_by_handle_at, {0, 0, 0}},
    {"name_to_handle_at", SYS_name_to_handle_at, {0, 0, 0, 0, 0}},
    {"fork_clone", SYS_clone, {SIGCHLD, 0, 0, 0, 0}},
    {"fork", SYS_fork, {}},
    {"unshare_user", SYS_unshare, {CLONE_NEWUSER}},
    {"setns", SYS_setns, {0, 0}},
    {"kill", SYS_kill, {1, SIGKILL}},
    {"tgkill_other", SYS_tgkill, {1, 1, SIGKILL}},
    {"setresuid", SYS_setresuid, {0, 0, 0}},
    {"setuid", SYS_setuid, {0}},
    {"setgroups", SYS_setgroups, {0, 0}},
    {"fcntl_setown", SYS_fcntl, {0, F_SETOWN, 1}},
    {"fcntl_setlk", SYS_fcntl, {0, F_SETLK, 0}},
    {"ioctl_tiocsti", SYS_ioctl, {0, TIOCSTI, 0}},
    {"prctl", SYS_prctl, {PR_SET_DUMPABLE, 1}},
    {"bpf", SYS_bpf, {0, 0, 0}},
    {"keyctl", SYS_keyctl, {0, 0, 0, 0, 0}},
    {"perf_event_open", SYS_perf_event_open, {0, 0, 0, 0, 0}},
    {"memfd_create", SYS_memfd_create, {0, 0}},
    {"open", SYS_open, {0, 0, 0}},
    {"rename", SYS_rename, {0, 0}},
    {"chmod", SYS_chmod, {0, 0}},
    {"init_module", SYS_init_module, {0, 0, 0}},
    {"reboot", SYS_reboot, {0, 0, 0, 0}},
};

class ForbiddenSyscallTest : public ::testing::TestWithParam<Forbidden> {};

TEST_P(ForbiddenSyscallTest, KillsTheProcess) {
  const Forbidden& f = GetParam();
  EXPECT_EXIT(
      {
        if (!InstallSeccompPolicy(SeccompAction::kKill).ok()) _exit(2);
        syscall(f.nr, f.args[0], f.args[1], f.args[2], f.args[3], f.args[4], f.args[5]);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

INSTANTIATE_TEST_SUITE_P(Table, ForbiddenSyscallTest, ::testing::ValuesIn(kForbidden),
                         [](const auto& info) { return std::string(info.param.name); });

// The namespace mode's waiting parent: every syscall but wait and exit kills it.
class ForbiddenToTheWaiterTest : public ::testing::TestWithParam<Forbidden> {};

TEST_P(ForbiddenToTheWaiterTest, KillsTheProcess) {
  const Forbidden& f = GetParam();
  EXPECT_EXIT(
      {
        if (!InstallWaiterSeccompPolicy().ok()) _exit(2);
        syscall(f.nr, f.args[0], f.args[1], f.args[2], f.args[3], f.args[4], f.args[5]);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

const Forbidden kForbiddenToTheWaiter[] = {
    {"openat", SYS_openat, {AT_FDCWD, 0, 0, 0}},
    {"read", SYS_read, {0, 0, 0}},
    {"write", SYS_write, {2, 0, 0}},
    {"kill", SYS_kill, {1, 0}},
    {"mmap", SYS_mmap, {0, 4096, 0, 0x22, -1, 0}},
    {"ptrace", SYS_ptrace, {PTRACE_TRACEME, 0, 0, 0}},
    {"capset", SYS_capset, {0, 0}},
};

INSTANTIATE_TEST_SUITE_P(Table, ForbiddenToTheWaiterTest,
                         ::testing::ValuesIn(kForbiddenToTheWaiter),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(WaiterSeccompPolicyTest, WaitsAndExits) {
  EXPECT_EXIT(
      {
        const pid_t child = fork();
        if (child == 0) _exit(7);
        if (!InstallWaiterSeccompPolicy().ok()) _exit(2);
        int status = 0;
        if (waitpid(child, &status, 0) != child) _exit(3);
        _exit(WEXITSTATUS(status));
      },
      ::testing::ExitedWithCode(7), "");
}

TEST(SeccompPolicyTest, TrapRaisesSigsys) {
  EXPECT_EXIT(
      {
        if (!InstallSeccompPolicy(SeccompAction::kTrap).ok()) _exit(2);
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

TEST(SeccompPolicyTest, LogAllowsAndNoneLoadsNothing) {
  EXPECT_EXIT(
      {
        if (!InstallSeccompPolicy(SeccompAction::kLog).ok()) _exit(2);
        _exit(syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        if (!InstallSeccompPolicy(SeccompAction::kNone).ok()) _exit(2);
        _exit(prctl(PR_GET_SECCOMP) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(SeccompPolicyTest, WhatTheBrokerNeedsStillWorks) {
  EXPECT_EXIT(
      {
        if (!InstallSeccompPolicy(SeccompAction::kKill).ok()) _exit(2);
        // Threads (glibc falls back from clone3 to clone), unshare(CLONE_FS).
        int unshared = -1;
        std::thread thread([&] { unshared = unshare(CLONE_FS); });
        thread.join();
        if (unshared != 0) _exit(4);
        if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) _exit(5);
        const int fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct statx st;
        if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) != 0) _exit(6);
        if (fcntl(fd, F_GETFL) < 0) _exit(7);
        close(fd);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace virtiofsd
