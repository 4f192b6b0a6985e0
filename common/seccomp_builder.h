// One way to write a process's seccomp allow-list (libseccomp), for the broker
// and the frontend alike: a default action for anything not listed (from the
// shared SeccompAction), syscalls allowed outright or only under argument
// conditions, syscalls that fail with an errno instead, and the two rules both
// processes need (threads but no processes; signals only to their own threads).
//
// The builder records the first error and reports it from Build(), so a policy
// reads as a list. Sanitizer builds also allow what the sanitizer runtimes call
// behind the program's back; production builds allow exactly what is listed.

#ifndef VIRTIOFSD_COMMON_SECCOMP_BUILDER_H_
#define VIRTIOFSD_COMMON_SECCOMP_BUILDER_H_

#include <seccomp.h>

#include <initializer_list>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/settings.h"

namespace virtiofsd {

// A built filter, not yet in force. Movable; Install() once.
class SeccompFilter {
 public:
  // Sets no_new_privs and loads the filter into every thread of the process
  // (TSYNC). A filter built for SeccompAction::kNone installs nothing (and does
  // not set no_new_privs). Errors carry libseccomp's errno.
  absl::Status Install();

 private:
  friend class SeccompBuilder;
  using Context = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;
  explicit SeccompFilter(Context context) : context_(std::move(context)) {}
  // scmp_filter_ctx; null for kNone or once installed. A plain deleter, not a
  // shared_ptr: nothing virtual runs after the load (UBSan's vptr check would
  // probe memory with syscalls the filter may forbid).
  Context context_;
};

class SeccompBuilder {
 public:
  // Anything the policy does not mention gets `otherwise`: kKill kills the whole
  // process (SIGSYS), kTrap raises SIGSYS in the calling thread, kLog logs and
  // allows; kNone makes every call below a no-op and Build() an empty filter.
  explicit SeccompBuilder(SeccompAction otherwise);

  // Allowed whatever the arguments.
  SeccompBuilder& Allow(absl::Span<const int> syscalls);
  SeccompBuilder& Allow(std::initializer_list<int> syscalls) {
    return Allow(absl::Span<const int>(syscalls.begin(), syscalls.size()));
  }
  // Allowed when every condition holds (SCMP_A0(SCMP_CMP_EQ, x) and the like);
  // several AllowIf() of one syscall allow any of them.
  SeccompBuilder& AllowIf(int syscall, std::initializer_list<scmp_arg_cmp> conditions);
  // Fails with `error` instead of running.
  SeccompBuilder& Fail(int syscall, int error);

  // clone() only with CLONE_THREAD: threads, no new processes. clone3() passes
  // its flags in memory, out of the filter's reach: it fails with ENOSYS, and
  // glibc falls back to clone().
  SeccompBuilder& AllowThreadsOnly();
  // tgkill() only to a thread of this process (the process that calls this: build
  // the policy in the process that installs it).
  SeccompBuilder& AllowSignalsToOwnThreads();

  // The filter, or the first error of the calls above.
  absl::StatusOr<SeccompFilter> Build();

 private:
  void Add(uint32_t action, int syscall, absl::Span<const scmp_arg_cmp> conditions);

  SeccompFilter::Context context_{nullptr, seccomp_release};  // null for kNone
  absl::Status status_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_SECCOMP_BUILDER_H_
