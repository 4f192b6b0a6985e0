// The attacks a taken-over frontend would try, each made by a process that ran
// exactly the frontend's confinement (ConfineFrontend, then the filter put in
// force as main.cc does after accepting its connection). Needs root (tagged
// "local": Bazel's sandbox maps only root and the frontend switches ids).

#include "frontend/confinement.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// An id no other process has, as the launcher picks it (the test's pid here).
const unsigned kInstanceId = 0x7f000000u + static_cast<unsigned>(getpid());

FrontendOptions Options() {
  FrontendOptions options;
  options.channel_fd = 3;
  options.listen_fd = 4;
  options.sandbox_uid = kInstanceId;
  options.sandbox_gid = kInstanceId;
  options.unique_ids = true;
  return options;
}

// Confines this (forked, single-threaded) process as the frontend is; exits 99
// if that fails.
void ConfineOrDie(const FrontendOptions& options) {
  absl::StatusOr<SeccompFilter> filter = ConfineFrontend(options);
  if (!filter.ok() || !filter->Install().ok()) _exit(99);
}

class ConfinementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the frontend confines itself only as root";
  }
};

// Another process with the frontend's own uid (as when every instance was
// nobody), so only the filter stands between them: tgkill reaches no process but
// the caller.
TEST_F(ConfinementTest, TgkillCannotReachAnotherProcess) {
  const pid_t victim = fork();
  if (victim == 0) {
    if (setresgid(kInstanceId, kInstanceId, kInstanceId) != 0 ||
        setresuid(kInstanceId, kInstanceId, kInstanceId) != 0) {
      _exit(1);
    }
    for (;;) pause();
  }
  ASSERT_GT(victim, 0);
  EXPECT_EXIT(
      {
        ConfineOrDie(Options());
        syscall(SYS_tgkill, victim, victim, SIGKILL);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
  int status;
  EXPECT_EQ(waitpid(victim, &status, WNOHANG), 0) << "the victim was killed";
  kill(victim, SIGKILL);
  waitpid(victim, &status, 0);
}

// Its own threads stay reachable (abort() uses tgkill).
TEST_F(ConfinementTest, AbortStillWorks) {
  EXPECT_EXIT(
      {
        ConfineOrDie(Options());
        abort();
      },
      ::testing::KilledBySignal(SIGABRT), "");
}

// The listening socket is still open (a compromised frontend could keep it): no
// second connection can be taken once the filter is on.
TEST_F(ConfinementTest, NoFurtherConnectionCanBeAccepted) {
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string name = "vfsd-confinement-test-" + std::to_string(getpid());
  name.copy(addr.sun_path + 1, name.size());  // abstract: nothing to clean up
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr),
                 offsetof(sockaddr_un, sun_path) + 1 + name.size()),
            0);
  ASSERT_EQ(listen(listener, 1), 0);
  EXPECT_EXIT(
      {
        ConfineOrDie(Options());
        accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS), "");
  close(listener);
}

// A frontend that starts threads without end gets EAGAIN at its bound, so it
// cannot use up processes other instances (or anyone) need.
TEST_F(ConfinementTest, ThreadsStopAtTheBound) {
  const FrontendOptions options = Options();
  const int limit = static_cast<int>(FrontendProcessLimit(options));
  EXPECT_EXIT(
      {
        int block[2];
        if (pipe(block) != 0) _exit(98);
        ConfineOrDie(options);
        int started = 1;  // this thread
        pthread_t thread;
        auto wait = [](void* fd) -> void* {
          char byte;
          (void)!read(*static_cast<int*>(fd), &byte, 1);
          return nullptr;
        };
        while (started < 200 && pthread_create(&thread, nullptr, wait, &block[0]) == 0) ++started;
        _exit(started);
      },
      ::testing::ExitedWithCode(limit), "");
  EXPECT_LT(limit, 20);
}

// The launcher's RLIMIT_NOFILE, the broker's too, replaces the inherited one.
TEST_F(ConfinementTest, TakesTheLaunchersNofileLimit) {
  FrontendOptions options = Options();
  options.rlimit_nofile = 4321;
  options.seccomp = SeccompAction::kNone;
  EXPECT_EXIT(
      {
        ConfineOrDie(options);
        rlimit limit;
        _exit(getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur == 4321 &&
                      limit.rlim_max == 4321
                  ? 0
                  : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace virtiofsd
