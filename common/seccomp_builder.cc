#include "common/seccomp_builder.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

uint32_t DefaultAction(SeccompAction action) {
  switch (action) {
    case SeccompAction::kLog:
      return SCMP_ACT_LOG;
    case SeccompAction::kTrap:
      return SCMP_ACT_TRAP;
    case SeccompAction::kKill:
    case SeccompAction::kNone:
      break;
  }
  return SCMP_ACT_KILL_PROCESS;
}

std::string SyscallName(int syscall) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall);
  std::string text = name != nullptr ? name : absl::StrCat("syscall ", syscall);
  free(name);
  return text;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// What the sanitizer runtimes call behind our back (pipe2 to probe memory,
// per-thread alternate signal stacks, stack limits).
constexpr int kSanitizerRuntime[] = {
    SCMP_SYS(getrlimit),
    SCMP_SYS(pipe2),
    SCMP_SYS(prlimit64),
    SCMP_SYS(sigaltstack),
};
#endif

}  // namespace

SeccompBuilder::SeccompBuilder(SeccompAction otherwise) {
  if (otherwise == SeccompAction::kNone) return;
  context_.reset(seccomp_init(DefaultAction(otherwise)));
  if (context_ == nullptr) {
    status_ = absl::InternalError("seccomp_init failed");
    return;
  }
  if (int rc = seccomp_attr_set(context_.get(), SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    status_ = ErrnoError(-rc, "seccomp TSYNC");
  }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  Allow(kSanitizerRuntime);
#endif
}

void SeccompBuilder::Add(uint32_t action, int syscall, absl::Span<const scmp_arg_cmp> conditions) {
  if (context_ == nullptr || !status_.ok()) return;
  if (int rc = seccomp_rule_add_array(context_.get(), action, syscall,
                                      static_cast<unsigned>(conditions.size()), conditions.data());
      rc != 0) {
    status_ = ErrnoError(-rc, absl::StrCat("seccomp rule for ", SyscallName(syscall)));
  }
}

SeccompBuilder& SeccompBuilder::Allow(absl::Span<const int> syscalls) {
  for (int syscall : syscalls) Add(SCMP_ACT_ALLOW, syscall, {});
  return *this;
}

SeccompBuilder& SeccompBuilder::AllowIf(int syscall,
                                        std::initializer_list<scmp_arg_cmp> conditions) {
  Add(SCMP_ACT_ALLOW, syscall,
      absl::Span<const scmp_arg_cmp>(conditions.begin(), conditions.size()));
  return *this;
}

SeccompBuilder& SeccompBuilder::Fail(int syscall, int error) {
  Add(SCMP_ACT_ERRNO(static_cast<uint32_t>(error)), syscall, {});
  return *this;
}

SeccompBuilder& SeccompBuilder::AllowThreadsOnly() {
  AllowIf(SCMP_SYS(clone), {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)});
  return Fail(SCMP_SYS(clone3), ENOSYS);
}

SeccompBuilder& SeccompBuilder::AllowSignalsToOwnThreads() {
  return AllowIf(SCMP_SYS(tgkill), {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()))});
}

absl::StatusOr<SeccompFilter> SeccompBuilder::Build() {
  if (!status_.ok()) return status_;
  return SeccompFilter(std::move(context_));
}

absl::Status SeccompFilter::Install() {
  if (context_ == nullptr) return absl::OkStatus();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ErrnoError(errno, "no_new_privs");
  if (int rc = seccomp_load(context_.get()); rc != 0) return ErrnoError(-rc, "seccomp_load");
  context_.reset();
  return absl::OkStatus();
}

}  // namespace virtiofsd
