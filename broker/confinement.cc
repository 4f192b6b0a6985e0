#include "broker/confinement.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "broker/capabilities.h"
#include "broker/landlock.h"
#include "broker/seccomp_policy.h"
#include "broker/share_mount.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace virtiofsd {
namespace {

const char* FileHandleModeName(FileHandleMode mode) {
  return mode == FileHandleMode::kMandatory ? "mandatory" : "prefer";
}

}  // namespace

// open_by_handle_at() with CAP_DAC_READ_SEARCH opens any inode of the share's
// filesystem, beneath the share or not.
absl::Status CheckConfinable(const BrokerOptions& options) {
  if (options.inode_file_handles == FileHandleMode::kNever) return absl::OkStatus();
  UniqueFd share(open(options.shared_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!share.valid()) return ErrnoError(errno, "open " + options.shared_dir);
  absl::StatusOr<bool> root = IsFilesystemRoot(share.get());
  if (root.ok() && *root) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--inode-file-handles=", FileHandleModeName(options.inode_file_handles), ": ",
      options.shared_dir,
      " is not the root of its filesystem, and a file handle could open any file of that "
      "filesystem; share a filesystem's root (a mount of its own) or use "
      "--inode-file-handles=never",
      root.ok() ? "" : absl::StrCat(" (", root.status().message(), ")")));
}

absl::StatusOr<SandboxFds> ConfineBroker(const BrokerOptions& options, uint64_t capabilities) {
  VFSD_RETURN_IF_ERROR(CheckConfinable(options));
  // CVE-2022-0358: requests run with the caller's uid/gid and no other groups.
  // Inside a user namespace whose setgroups is denied the groups cannot change
  // (nor be used to gain access the namespace's owner lacks): go on, say so.
  if (setgroups(0, nullptr) < 0) {
    if (errno != EPERM) return ErrnoError(errno, "setgroups(0)");
    VFSD_LOG(kWarn, "cannot drop supplementary groups (setgroups denied here)");
  }
  VFSD_ASSIGN_OR_RETURN(SandboxFds fds, EnterSandbox(options.sandbox, options.shared_dir));

  constexpr uint64_t kMknod = uint64_t{1} << CAP_MKNOD;
  if (capabilities & kMknod) {
    VFSD_ASSIGN_OR_RETURN(bool nodev, MountIsNodev(fds.shared_dir.get()));
    if (!nodev) {
      capabilities &= ~kMknod;
      VFSD_LOG(kWarn,
               "the shared dir's mount allows device nodes (no nodev): guests cannot create "
               "device nodes (mount it nodev, or use --sandbox=namespace)");
    }
  }
  VFSD_RETURN_IF_ERROR(ApplyCapabilities(capabilities));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ErrnoError(errno, "no_new_privs");
  VFSD_ASSIGN_OR_RETURN(int landlock_abi, RestrictToShare(fds.shared_dir.get()));
  if (landlock_abi == 0) {
    VFSD_LOG(kWarn,
             "Landlock is unavailable: only the sandbox mode bounds what this process can "
             "open (broker/README.md \"Threat model\")");
  } else {
    VFSD_LOG(kDebug, "Landlock ABI %d: only the shared dir is reachable", landlock_abi);
  }
  const bool file_handles = options.inode_file_handles != FileHandleMode::kNever;
  VFSD_RETURN_IF_ERROR(InstallSeccompPolicy(options.seccomp, file_handles));
  return fds;
}

}  // namespace virtiofsd
