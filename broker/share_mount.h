// Facts about the mount that holds the shared directory, read before the
// broker confines itself: whether the share is the root of its filesystem (so
// that a file handle, which names any inode of a filesystem, cannot name one
// outside the share), and whether the mount refuses device nodes (nodev).

#ifndef VIRTIOFSD_BROKER_SHARE_MOUNT_H_
#define VIRTIOFSD_BROKER_SHARE_MOUNT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// The "root" field (4th) of mount `mount_id`'s line in `mountinfo` (the text of
// /proc/PID/mountinfo, proc(5)): the directory of the filesystem that is the
// mount's root, "/" for a mount of a whole filesystem. nullopt when absent.
std::optional<std::string> MountRootInMountinfo(absl::string_view mountinfo, uint64_t mount_id);

// True when `dir_fd` is the root directory of its filesystem: the root of its
// mount, and that mount's root is the filesystem's root (not a bind mount of a
// subdirectory, not a btrfs subvolume other than the top one). Reads
// /proc/self/mountinfo; errors carry the errno.
absl::StatusOr<bool> IsFilesystemRoot(int dir_fd);

// True when the mount holding `dir_fd` has nodev (device nodes on it cannot be
// opened).
absl::StatusOr<bool> MountIsNodev(int dir_fd);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_SHARE_MOUNT_H_
