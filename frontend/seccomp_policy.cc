#include "frontend/seccomp_policy.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
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

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Only in sanitizer builds (tests): what their runtimes call behind our back (pipe2
// to probe memory, stack limits).
constexpr int kSanitizerRuntime[] = {
    SCMP_SYS(getrlimit),
    SCMP_SYS(pipe2),
    SCMP_SYS(prlimit64),
};
#endif

uint32_t DefaultAction(SeccompAction action) {
  switch (action) {
    case SeccompAction::kLog:
      return SCMP_ACT_LOG;
    case SeccompAction::kTrap:
      return SCMP_ACT_TRAP;
    default:
      return SCMP_ACT_KILL_PROCESS;
  }
}

}  // namespace

absl::StatusOr<FrontendSeccompFilter> FrontendSeccompFilter::Build(SeccompAction action) {
  if (action == SeccompAction::kNone) return FrontendSeccompFilter(nullptr);
  std::shared_ptr<void> ctx(seccomp_init(DefaultAction(action)), seccomp_release);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  for (int syscall : kAllowed) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, syscall, 0); rc != 0) {
      return ErrnoError(-rc, absl::StrCat("seccomp_rule_add(", syscall, ")"));
    }
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  for (int syscall : kSanitizerRuntime) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, syscall, 0); rc != 0) {
      return ErrnoError(-rc, absl::StrCat("seccomp_rule_add(", syscall, ")"));
    }
  }
#endif
  // Threads only, no new processes. clone3 passes its flags in memory, out of the
  // filter's reach: ENOSYS makes glibc fall back to clone.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
      rc != 0) {
    return ErrnoError(-rc, "seccomp_rule_add(clone)");
  }
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc != 0) {
    return ErrnoError(-rc, "seccomp_rule_add(clone3)");
  }
  // abort() on a fatal error signals its own thread; no other process.
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid())));
      rc != 0) {
    return ErrnoError(-rc, "seccomp_rule_add(tgkill)");
  }
  // glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH): allow only calls with
  // AT_EMPTY_PATH (a path given anyway resolves in the empty root).
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                                SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
      rc != 0) {
    return ErrnoError(-rc, "seccomp_rule_add(newfstatat)");
  }
  // Opening anything fails with EACCES instead of killing: glibc opens files lazily
  // (malloc reads /proc/sys/vm/overcommit_memory when it first trims a thread's
  // heap, get_nprocs() reads /sys) and copes with the failure. The root is empty
  // anyway, so nothing could be opened.
  for (int syscall : {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2)}) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EACCES), syscall, 0); rc != 0) {
      return ErrnoError(-rc, "seccomp_rule_add(open*)");
    }
  }
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    return ErrnoError(-rc, "seccomp TSYNC");
  }
  return FrontendSeccompFilter(std::move(ctx));
}

absl::Status FrontendSeccompFilter::Install() {
  if (context_ == nullptr) return absl::OkStatus();
  if (int rc = seccomp_load(context_.get()); rc != 0) return ErrnoError(-rc, "seccomp_load");
  context_.reset();
  return absl::OkStatus();
}

absl::Status InstallFrontendSeccomp(SeccompAction action) {
  VFSD_ASSIGN_OR_RETURN(FrontendSeccompFilter filter, FrontendSeccompFilter::Build(action));
  return filter.Install();
}

}  // namespace virtiofsd
