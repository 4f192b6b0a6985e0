#include "frontend/confinement.h"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/base/internal/sysinfo.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "frontend/seccomp_policy.h"

namespace virtiofsd {
namespace {

// Replaces the root with an empty, read-only tmpfs, so no path resolves to anything.
absl::Status EnterEmptyRoot() {
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
    return ErrnoError(errno, "unshare of the frontend's namespaces");
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoError(errno, "making / private");
  }
  // Any existing directory serves as the mount point: this mount namespace is ours.
  if (mount("virtiofsd-frontend", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,mode=0555") != 0) {
    return ErrnoError(errno, "mounting the empty root");
  }
  if (chdir("/tmp") != 0) return ErrnoError(errno, "chdir to the empty root");
  if (syscall(SYS_pivot_root, ".", ".") != 0) return ErrnoError(errno, "pivot_root");
  if (umount2(".", MNT_DETACH) != 0) return ErrnoError(errno, "detaching the old root");
  if (chdir("/") != 0) return ErrnoError(errno, "chdir /");
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr) != 0) {
    return ErrnoError(errno, "remounting the empty root read-only");
  }
  return absl::OkStatus();
}

// Clears the bounding set, drops supplementary groups and switches every uid and
// gid; with the uid no longer 0 (and no keep-caps) every capability set empties.
absl::Status BecomeUnprivileged(uid_t uid, gid_t gid) {
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_apply(CAPNG_SELECT_BOUNDS) != 0)
    return absl::InternalError("clearing the bounding set");
  if (setgroups(0, nullptr) != 0) {
    // A user namespace with setgroups denied (containers, Bazel's sandbox) keeps
    // the groups it was given; nothing can add one either.
    if (errno != EPERM) return ErrnoError(errno, "setgroups");
    VFSD_LOG(kWarn, "cannot drop supplementary groups (setgroups denied here)");
  }
  if (setresgid(gid, gid, gid) != 0) return ErrnoError(errno, absl::StrCat("setresgid ", gid));
  if (setresuid(uid, uid, uid) != 0) return ErrnoError(errno, absl::StrCat("setresuid ", uid));
  // Checked with capget(2): /proc, where libcap-ng looks, is gone in the empty root.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return ErrnoError(errno, "capget");
  for (const __user_cap_data_struct& set : data) {
    if (set.effective != 0 || set.permitted != 0 || set.inheritable != 0) {
      return absl::InternalError("capabilities survived the switch to an unprivileged uid");
    }
  }
  return absl::OkStatus();
}

absl::Status SetLimit(int resource, uint64_t value, const char* name) {
  const rlimit limit = {value, value};
  if (setrlimit(resource, &limit) != 0) return ErrnoError(errno, absl::StrCat(name, " ", value));
  return absl::OkStatus();
}

}  // namespace

int FrontendThreadBound(const FrontendOptions& options) {
  return 3 + (1 + options.request_queues) + options.thread_pool_size;
}

uint64_t FrontendProcessLimit(const FrontendOptions& options) {
  uint64_t limit = FrontendThreadBound(options) + 1 + options.request_queues;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  limit += 4;  // the sanitizer runtime's own tasks (LeakSanitizer's tracer)
#endif
  return limit;
}

absl::StatusOr<SeccompFilter> ConfineFrontend(const FrontendOptions& options) {
  // The filter names this process: build it before anything else can fail late.
  VFSD_ASSIGN_OR_RETURN(SeccompFilter filter, BuildFrontendSeccompFilter(options.seccomp));
  // The broker's limit too, so every fd its budget hands out can be received.
  if (options.rlimit_nofile > 0) {
    VFSD_RETURN_IF_ERROR(SetLimit(RLIMIT_NOFILE, options.rlimit_nofile, "RLIMIT_NOFILE"));
  }
  if (geteuid() == 0) {
    VFSD_RETURN_IF_ERROR(EnterEmptyRoot());
    // Counted per real uid: only meaningful when no other process has this one.
    if (options.unique_ids) {
      VFSD_RETURN_IF_ERROR(SetLimit(RLIMIT_NPROC, FrontendProcessLimit(options), "RLIMIT_NPROC"));
    }
    VFSD_RETURN_IF_ERROR(BecomeUnprivileged(options.sandbox_uid, options.sandbox_gid));
  } else {
    VFSD_LOG(kWarn, "not started as root: the frontend keeps its namespaces and ids");
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
      return absl::InternalError("cannot clear capabilities");
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ErrnoError(errno, "no_new_privs");
  // abseil reads the CPU count and clock rate from /sys the first time a Mutex is
  // contended (glibc's get_nprocs() opens a file): do it now, while open is allowed.
  (void)absl::base_internal::NumCPUs();
  (void)absl::base_internal::NominalCPUFrequency();
  return filter;
}

}  // namespace virtiofsd
