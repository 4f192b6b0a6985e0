// The broker's seccomp allow-list (libseccomp): every syscall its code paths
// make and nothing else, with argument filters where cheap (clone only for
// threads, unshare only CLONE_FS, fcntl only the commands we use, ioctl only
// TCGETS, tgkill only to our own threads). No socket(), connect(), execve(),
// ptrace(), mount() at all, and open_by_handle_at() only with file handles on.
//
// Installed after the sandbox and capabilities, before the first request; it
// applies to every thread created afterwards (and, with TSYNC, to existing ones).

#ifndef VIRTIOFSD_BROKER_SECCOMP_POLICY_H_
#define VIRTIOFSD_BROKER_SECCOMP_POLICY_H_

#include "absl/status/status.h"
#include "common/settings.h"

namespace virtiofsd {

// Sets no_new_privs and loads the filter; a forbidden syscall then kills the
// process (kKill), is logged and allowed (kLog), or raises SIGSYS (kTrap).
// kNone loads nothing. `file_handles` allows name_to_handle_at and
// open_by_handle_at (--inode-file-handles). Errors carry libseccomp's errno.
absl::Status InstallSeccompPolicy(SeccompAction action, bool file_handles = false);

// The filter of the process that only waits for the namespaced broker (see
// sandbox.h): wait4, exit and exit_group, nothing else (any other syscall kills
// it), whatever --seccomp says. Sets no_new_privs.
absl::Status InstallWaiterSeccompPolicy();

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_SECCOMP_POLICY_H_
