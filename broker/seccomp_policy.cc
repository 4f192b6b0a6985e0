#include "broker/seccomp_policy.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

// Allowed without conditions. One a line, alphabetical.
constexpr int kAllowed[] = {
    SCMP_SYS(brk),
    SCMP_SYS(capget),
    SCMP_SYS(capset),  // credentials.h: this thread's effective set, within its permitted one.
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),  // absl::Mutex backoff.
    SCMP_SYS(close),
    SCMP_SYS(copy_file_range),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(faccessat2),
    SCMP_SYS(fallocate),
    SCMP_SYS(fchdir),  // Into our own /proc/self/fd for the xattr calls.
    SCMP_SYS(fchmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(fchownat),
    SCMP_SYS(fdatasync),
    SCMP_SYS(flock),
    SCMP_SYS(fstat),
    SCMP_SYS(fstatfs),
    SCMP_SYS(fsync),
    SCMP_SYS(ftruncate),
    SCMP_SYS(futex),
    SCMP_SYS(getdents64),
    SCMP_SYS(getpid),
    SCMP_SYS(getrandom),  // Hash seeds.
    SCMP_SYS(gettid),
    SCMP_SYS(getxattr),
    SCMP_SYS(linkat),
    SCMP_SYS(listxattr),
    SCMP_SYS(lseek),
    SCMP_SYS(madvise),  // Freeing thread stacks.
    SCMP_SYS(mkdirat),
    SCMP_SYS(mknodat),
    SCMP_SYS(mmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(mremap),
    SCMP_SYS(munmap),
    SCMP_SYS(nanosleep),
    SCMP_SYS(newfstatat),
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(read),
    SCMP_SYS(readlinkat),
    SCMP_SYS(recvmsg),
    SCMP_SYS(removexattr),
    SCMP_SYS(renameat2),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(rseq),
    SCMP_SYS(rt_sigaction),  // glibc's first pthread_create sets its internal handlers.
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),        // Returning from the lock-interrupt signal.
    SCMP_SYS(sched_getaffinity),   // glibc sysconf(_SC_NPROCESSORS_ONLN).
    SCMP_SYS(sched_getparam),      // pthread_create() from a thread that never made one:
    SCMP_SYS(sched_getscheduler),  // glibc reads the scheduling policy to inherit.
    SCMP_SYS(sched_yield),
    SCMP_SYS(sendmsg),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(setfsgid),
    SCMP_SYS(setfsuid),
    SCMP_SYS(setxattr),
    SCMP_SYS(shutdown),  // FrameSocket::Shutdown().
    SCMP_SYS(statx),
    SCMP_SYS(symlinkat),
    SCMP_SYS(syncfs),
    SCMP_SYS(umask),
    SCMP_SYS(unlinkat),
    SCMP_SYS(utimensat),
    SCMP_SYS(write),
    SCMP_SYS(writev),
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Only in sanitizer builds (tests): what their runtimes call behind our back
// (pipe2 to probe memory, per-thread alternate signal stacks, stack limits).
constexpr int kSanitizerRuntime[] = {
    SCMP_SYS(getrlimit),
    SCMP_SYS(pipe2),
    SCMP_SYS(prlimit64),
    SCMP_SYS(sigaltstack),
};
#endif

// fcntl commands the broker uses.
constexpr int kFcntlCommands[] = {F_DUPFD_CLOEXEC, F_GETFD,     F_GETFL,     F_SETFD,
                                  F_SETFL,         F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW};

uint32_t DefaultAction(SeccompAction action) {
  switch (action) {
    case SeccompAction::kKill:
      return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::kLog:
      return SCMP_ACT_LOG;
    case SeccompAction::kTrap:
      return SCMP_ACT_TRAP;
    case SeccompAction::kNone:
      break;
  }
  return SCMP_ACT_ALLOW;
}

absl::Status Check(int rc, const char* what) {
  return rc == 0 ? absl::OkStatus() : ErrnoError(-rc, what);
}

}  // namespace

absl::Status InstallSeccompPolicy(SeccompAction action, bool file_handles) {
  if (action == SeccompAction::kNone) return absl::OkStatus();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ErrnoError(errno, "no_new_privs");
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(DefaultAction(action)),
                                                       seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  scmp_filter_ctx f = ctx.get();
  for (int nr : kAllowed) {
    VFSD_RETURN_IF_ERROR(Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0), "seccomp_rule_add"));
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  for (int nr : kSanitizerRuntime) {
    VFSD_RETURN_IF_ERROR(Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0), "seccomp_rule_add"));
  }
#endif
  if (file_handles) {
    for (int nr : {SCMP_SYS(name_to_handle_at), SCMP_SYS(open_by_handle_at)}) {
      VFSD_RETURN_IF_ERROR(Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0), "handle rules"));
    }
  }
  // Threads only: no new processes.
  VFSD_RETURN_IF_ERROR(
      Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
            "clone rule"));
  // clone3 passes its flags in memory, out of the filter's reach: ENOSYS makes
  // glibc fall back to clone.
  VFSD_RETURN_IF_ERROR(
      Check(seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3 rule"));
  VFSD_RETURN_IF_ERROR(Check(
      seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_EQ, CLONE_FS)),
      "unshare rule"));
  for (int command : kFcntlCommands) {
    VFSD_RETURN_IF_ERROR(
        Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
                               SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command))),
              "fcntl rule"));
  }
  // isatty() from stdio.
  VFSD_RETURN_IF_ERROR(
      Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS)),
            "ioctl rule"));
  // Signals only to our own threads (interrupting lock waiters).
  VFSD_RETURN_IF_ERROR(
      Check(seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                             SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()))),
            "tgkill rule"));
  // Load into every thread of the process.
  VFSD_RETURN_IF_ERROR(Check(seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1), "tsync"));
  return Check(seccomp_load(f), "seccomp_load");
}

absl::Status InstallWaiterSeccompPolicy() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ErrnoError(errno, "no_new_privs");
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS),
                                                       seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  for (int nr : {SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
                 SCMP_SYS(rt_sigreturn), SCMP_SYS(wait4)}) {
    VFSD_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0), "seccomp_rule_add"));
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  for (int nr : kSanitizerRuntime) {
    VFSD_RETURN_IF_ERROR(
        Check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0), "seccomp_rule_add"));
  }
#endif
  return Check(seccomp_load(ctx.get()), "seccomp_load");
}

}  // namespace virtiofsd
