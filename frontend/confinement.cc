#include "frontend/confinement.h"

#include <cap-ng.h>
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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

}  // namespace

absl::Status ConfineFrontend(const FrontendOptions& options) {
  if (geteuid() == 0) {
    VFSD_RETURN_IF_ERROR(EnterEmptyRoot());
    // setgroups(0), setresgid, setresuid, and the bounding set cleared; with the
    // uid no longer 0 every capability set empties.
    capng_clear(CAPNG_SELECT_BOTH);
    if (int rc = capng_change_id(
            static_cast<int>(options.sandbox_uid), static_cast<int>(options.sandbox_gid),
            static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
        rc != 0) {
      return absl::InternalError(absl::StrCat("capng_change_id to ", options.sandbox_uid, ":",
                                              options.sandbox_gid, " failed (", rc, ")"));
    }
  } else {
    VFSD_LOG(kWarn, "not started as root: the frontend keeps its namespaces and ids");
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
      return absl::InternalError("cannot clear capabilities");
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ErrnoError(errno, "no_new_privs");
  return InstallFrontendSeccomp(options.seccomp);
}

}  // namespace virtiofsd
