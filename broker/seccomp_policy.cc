#include "broker/seccomp_policy.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "common/seccomp_builder.h"
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

// fcntl commands the broker uses.
constexpr int kFcntlCommands[] = {F_DUPFD_CLOEXEC, F_GETFD,     F_GETFL,     F_SETFD,
                                  F_SETFL,         F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW};

}  // namespace

absl::Status InstallSeccompPolicy(SeccompAction action, bool file_handles) {
  SeccompBuilder policy(action);
  policy.Allow(kAllowed).AllowThreadsOnly().AllowSignalsToOwnThreads();  // Lock interrupts.
  if (file_handles) policy.Allow({SCMP_SYS(name_to_handle_at), SCMP_SYS(open_by_handle_at)});
  policy.AllowIf(SCMP_SYS(unshare), {SCMP_A0(SCMP_CMP_EQ, CLONE_FS)});
  for (int command : kFcntlCommands) {
    policy.AllowIf(SCMP_SYS(fcntl), {SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(command))});
  }
  policy.AllowIf(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, TCGETS)});  // isatty() from stdio.
  VFSD_ASSIGN_OR_RETURN(SeccompFilter filter, policy.Build());
  return filter.Install();
}

absl::Status InstallWaiterSeccompPolicy() {
  SeccompBuilder policy(SeccompAction::kKill);
  policy.Allow({SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
                SCMP_SYS(rt_sigreturn), SCMP_SYS(wait4)});
  VFSD_ASSIGN_OR_RETURN(SeccompFilter filter, policy.Build());
  return filter.Install();
}

}  // namespace virtiofsd
