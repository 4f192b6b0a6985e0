#include "frontend/seccomp_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>

#include "common/status.h"

namespace virtiofsd {
namespace {

// One syscall a line, alphabetical; a comment on every surprising entry.
constexpr int kAllowed[] = {
    SCMP_SYS(brk),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(close),
    SCMP_SYS(dup),  // A queue's kick fd, kept across restarts.
    SCMP_SYS(eventfd2),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(fstat),
    SCMP_SYS(futex),
    SCMP_SYS(getpid),
    SCMP_SYS(getrandom),  // abseil's hash seeds.
    SCMP_SYS(gettid),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(madvise),
    SCMP_SYS(mmap),  // Guest memory regions, and malloc.
    SCMP_SYS(mprotect),
    SCMP_SYS(mremap),
    SCMP_SYS(munmap),
    SCMP_SYS(nanosleep),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(pread64),
    SCMP_SYS(preadv),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwrite64),
    SCMP_SYS(pwritev),
    SCMP_SYS(pwritev2),
    SCMP_SYS(read),
    SCMP_SYS(readv),
    SCMP_SYS(recvfrom),
    SCMP_SYS(recvmsg),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(rseq),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_getparam),      // pthread_create() from a thread that never made one:
    SCMP_SYS(sched_getscheduler),  // glibc reads the scheduling policy to inherit.
    SCMP_SYS(sched_yield),
    SCMP_SYS(sendmsg),
    SCMP_SYS(sendto),  // send(2) of vhost-user replies on the accepted connection.
    SCMP_SYS(set_robust_list),
    SCMP_SYS(shutdown),  // Ending the broker channel.
    SCMP_SYS(sigaltstack),
    SCMP_SYS(write),
    SCMP_SYS(writev),
};

}  // namespace

absl::StatusOr<SeccompFilter> BuildFrontendSeccompFilter(SeccompAction action) {
  SeccompBuilder policy(action);
  policy.Allow(kAllowed).AllowThreadsOnly();
  // abort() on a fatal error signals its own thread; no other process.
  policy.AllowSignalsToOwnThreads();
  // glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH): allow only calls with
  // AT_EMPTY_PATH (a path given anyway resolves in the empty root).
  policy.AllowIf(SCMP_SYS(newfstatat), {SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)});
  // Opening anything fails with EACCES instead of killing: glibc opens files lazily
  // (malloc reads /proc/sys/vm/overcommit_memory when it first trims a thread's
  // heap, get_nprocs() reads /sys) and copes with the failure. The root is empty
  // anyway, so nothing could be opened.
  for (int syscall : {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2)}) {
    policy.Fail(syscall, EACCES);
  }
  return policy.Build();
}

absl::Status InstallFrontendSeccomp(SeccompAction action) {
  VFSD_ASSIGN_OR_RETURN(SeccompFilter filter, BuildFrontendSeccompFilter(action));
  return filter.Install();
}

}  // namespace virtiofsd
