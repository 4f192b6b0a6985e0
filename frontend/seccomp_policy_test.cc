// The frontend's seccomp filter, proven: each forbidden syscall kills a process that
// installed it, and what the frontend really does (threads, eventfds, socket I/O,
// mmap of a memfd, fstat, preadv/pwritev) still works under it.

#include "frontend/seccomp_policy.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <thread>

#include "common/channel/frame_socket.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

void InstallOrDie() {
  if (!InstallFrontendSeccomp(SeccompAction::kKill).ok()) _exit(99);
}

struct Forbidden {
  const char* name;
  long (*call)();
};

class FrontendSeccompDeathTest : public ::testing::TestWithParam<Forbidden> {};

TEST_P(FrontendSeccompDeathTest, KillsTheProcess) {
  EXPECT_EXIT(
      {
        InstallOrDie();
        GetParam().call();
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
}

INSTANTIATE_TEST_SUITE_P(
    Table, FrontendSeccompDeathTest,
    ::testing::Values(
        Forbidden{"socket", [] { return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }},
        Forbidden{"connect", [] { return syscall(SYS_connect, 0, nullptr, 0); }},
        Forbidden{"execve", [] { return syscall(SYS_execve, "/bin/true", nullptr, nullptr); }},
        Forbidden{"ptrace", [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }},
        Forbidden{"mount", [] { return syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr); }},
        Forbidden{"unshare", [] { return syscall(SYS_unshare, 0); }},
        Forbidden{"setuid", [] { return syscall(SYS_setuid, 0); }},
        Forbidden{"kill", [] { return syscall(SYS_kill, 1, 0); }},
        Forbidden{"mknodat", [] { return syscall(SYS_mknodat, AT_FDCWD, "/x", 0, 0); }},
        Forbidden{"unlinkat", [] { return syscall(SYS_unlinkat, AT_FDCWD, "/x", 0); }},
        Forbidden{"stat_of_a_path",
                  [] {
                    struct stat st;
                    return syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0);
                  }},
        Forbidden{"memfd_create", [] { return syscall(SYS_memfd_create, "x", 0); }},
        Forbidden{"bpf", [] { return syscall(SYS_bpf, 0, nullptr, 0); }},
        Forbidden{"fork", [] { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }}),
    [](const ::testing::TestParamInfo<Forbidden>& info) { return info.param.name; });

// Opening fails (EACCES) rather than killing, and opens nothing.
[[noreturn]] void TryToOpen() {
  InstallOrDie();
  if (syscall(SYS_open, "/etc/passwd", O_RDONLY) != -1 || errno != EACCES) _exit(1);
  if (syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) != -1 || errno != EACCES) _exit(2);
  if (syscall(SYS_openat2, AT_FDCWD, "/", nullptr, 0) != -1 || errno != EACCES) _exit(3);
  if (fopen("/proc/self/status", "r") != nullptr) _exit(4);
  _exit(0);
}

TEST(FrontendSeccompTest, OpeningFailsWithEacces) {
  EXPECT_EXIT(TryToOpen(), ::testing::ExitedWithCode(0), "");
}

// The frontend's own code paths: threads, eventfd, socket I/O with an fd attached,
// fstat, mmap of a memfd, preadv/pwritev. Exits 0 if all of it works.
[[noreturn]] void DoRealWorkUnderTheFilter() {
  auto pair = FrameSocket::CreatePair();
  const int memfd = memfd_create("guest", MFD_CLOEXEC);
  if (!pair.ok() || memfd < 0 || ftruncate(memfd, 1 << 20) != 0) _exit(3);
  InstallOrDie();
  int efd = eventfd(0, EFD_CLOEXEC);
  std::thread worker([efd] {
    uint64_t one = 1;
    if (write(efd, &one, sizeof(one)) != sizeof(one)) _exit(4);
  });
  worker.join();
  const int fds[] = {memfd};
  if (!pair->first.Send("x", fds).ok()) _exit(5);
  Frame frame;
  if (!pair->second.Receive(frame).ok() || frame.fds().size() != 1) _exit(6);
  struct stat st;
  if (fstat(frame.fds()[0].get(), &st) != 0 || st.st_size != (1 << 20)) _exit(7);
  void* p = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (p == MAP_FAILED) _exit(8);
  static_cast<char*>(p)[0] = 'q';
  char c = 0;
  iovec iov{&c, 1};
  if (preadv(memfd, &iov, 1, 0) != 1 || c != 'q') _exit(9);
  if (pwritev(memfd, &iov, 1, 1) != 1) _exit(10);
  munmap(p, 1 << 20);
  pair->first.Shutdown();
  _exit(0);
}

TEST(FrontendSeccompTest, RealWorkStillRunsUnderTheFilter) {
  EXPECT_EXIT(DoRealWorkUnderTheFilter(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace virtiofsd
