#include "launcher/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace virtiofsd {
namespace {

// Targets lie below kMaxTargetFd and scratch copies at or above kScratchFdBase, so
// moving one fd never overwrites another's source.
constexpr int kMaxTargetFd = 32;
constexpr int kScratchFdBase = 64;

// True once the process `pidfd` refers to has exited.
bool Exited(int pidfd) {
  pollfd pfd = {pidfd, POLLIN, 0};
  return poll(&pfd, 1, 0) != 0;
}

// Runs in the forked child: only async-signal-safe calls until exec. On failure
// writes errno to `error_pipe` and exits 127. `parent_pidfd` is the launcher's.
[[noreturn]] void ExecChild(int parent_pidfd, const char* path, char* const argv[],
                            absl::Span<const FdMapping> fds, int error_pipe) {
  int err = 0;
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0 || setpgid(0, 0) != 0 ||
      prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    err = errno;
  } else if (Exited(parent_pidfd)) {
    // The launcher died before PDEATHSIG was armed. (Not getppid(): in a PID
    // namespace of its own the child sees its parent as 0.)
    err = ESRCH;
  }
  // First move the error pipe and every source out of the way of the targets.
  if (err == 0) {
    error_pipe = fcntl(error_pipe, F_DUPFD_CLOEXEC, kScratchFdBase);
    if (error_pipe < 0) _exit(127);
  }
  int scratch[8];
  if (fds.size() > std::size(scratch)) err = E2BIG;
  for (size_t i = 0; err == 0 && i < fds.size(); ++i) {
    scratch[i] = fcntl(fds[i].source, F_DUPFD_CLOEXEC, kScratchFdBase);
    if (scratch[i] < 0) err = errno;
  }
  int max_target = 2;
  for (size_t i = 0; err == 0 && i < fds.size(); ++i) {
    if (fds[i].target <= 2 || fds[i].target >= kMaxTargetFd) err = EBADF;
    if (err == 0 && dup2(scratch[i], fds[i].target) < 0) err = errno;
    max_target = std::max(max_target, fds[i].target);
  }
  // Close every other fd above 2, keeping the error pipe (close-on-exec) until exec.
  for (int fd = 3; err == 0 && fd <= max_target; ++fd) {
    bool is_target = false;
    for (const FdMapping& mapping : fds) is_target |= mapping.target == fd;
    if (!is_target) close(fd);
  }
  // error_pipe >= kScratchFdBase > kMaxTargetFd > max_target: neither range is empty.
  if (err == 0 && (close_range(max_target + 1, error_pipe - 1, 0) != 0 ||
                   close_range(error_pipe + 1, ~0U, 0) != 0)) {
    err = errno;
  }
  if (err == 0) {
    execv(path, argv);
    err = errno;
  }
  (void)!write(error_pipe, &err, sizeof(err));
  _exit(127);
}

}  // namespace

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const std::string& path,
                                                 const std::vector<std::string>& args,
                                                 absl::Span<const FdMapping> fds,
                                                 bool new_pid_namespace) {
  // Everything the child needs is built before fork: it must not allocate.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe2");
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);

  UniqueFd parent(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!parent.valid()) return ErrnoError(errno, "pidfd_open of the launcher");
  // clone() without a new stack behaves as fork(); the child only execs.
  const pid_t pid = new_pid_namespace
                        ? static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr,
                                                     nullptr, nullptr, 0))
                        : fork();
  if (pid < 0) return ErrnoError(errno, new_pid_namespace ? "clone(CLONE_NEWPID)" : "fork");
  if (pid == 0) ExecChild(parent.get(), path.c_str(), argv.data(), fds, error_write.get());
  error_write.Reset();

  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const int pidfd_errno = errno;
  ChildProcess child(pid, std::move(pidfd));
  if (!child.pidfd_) {
    // Without a pidfd we cannot watch it: do not leave it running unobserved.
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return ErrnoError(pidfd_errno, "pidfd_open");
  }

  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    child.TryReap();  // it exits 127 right after writing; the destructor reaps otherwise
    return ErrnoError(child_errno == 0 ? EIO : child_errno, absl::StrCat("start ", path));
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      exit_(std::exchange(other.exit_, std::nullopt)) {}

ChildProcess::~ChildProcess() {
  if (pid_ < 0 || exit_.has_value()) return;
  Signal(SIGKILL);
  siginfo_t info = {};
  while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
}

void ChildProcess::Signal(int signal) {
  if (pid_ < 0 || exit_.has_value()) return;
  syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0);
}

std::optional<ChildExit> ChildProcess::TryReap() {
  if (exit_.has_value() || pid_ < 0) return exit_;
  siginfo_t info = {};
  if (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED | WNOHANG) != 0 ||
      info.si_pid == 0) {
    return std::nullopt;
  }
  ChildExit exit;
  exit.kind = info.si_code == CLD_EXITED ? ChildExit::Kind::kExited : ChildExit::Kind::kKilled;
  exit.value = info.si_status;
  exit.core_dumped = info.si_code == CLD_DUMPED;
  exit_ = exit;
  return exit_;
}

}  // namespace virtiofsd
