// Landlock for the broker: once applied, the process can open, create, remove,
// rename, link and truncate files only beneath the shared directory, whatever
// fds or paths it holds (a procfs fd, an O_PATH fd from before a chroot, an
// absolute path in --sandbox=none), cannot use TCP, and cannot signal processes
// outside its own Landlock domain. Landlock does not cover metadata changes
// (chmod, chown, xattrs, times) or opens with O_PATH: see broker/README.md
// "Threat model".
//
// Uses every access right the running kernel knows (ABI 1..7); without Landlock
// (kernel < 5.13, or disabled) it does nothing and says so.

#ifndef VIRTIOFSD_BROKER_LANDLOCK_H_
#define VIRTIOFSD_BROKER_LANDLOCK_H_

#include "absl/status/statusor.h"

namespace virtiofsd {

// The Landlock ABI version the kernel offers; 0 when it has none.
int LandlockAbi();

// Restricts the calling thread (and threads and processes it creates later) to
// `share_fd`'s hierarchy as described above. Needs no_new_privs (or
// CAP_SYS_ADMIN). Returns the ABI applied, 0 when Landlock is unavailable (then
// nothing changed); errors carry the failing step's errno.
absl::StatusOr<int> RestrictToShare(int share_fd);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_LANDLOCK_H_
