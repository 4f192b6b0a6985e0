// The --sandbox part of the broker's confinement (the whole is confinement.h):
//   namespace  new mount, pid, net, ipc and uts namespaces (and a user namespace
//              when started without root), a private /proc holding only our own
//              /proc/PID (subset=pid), the share bind-mounted nodev,nosuid, then
//              pivot_root into the shared dir: "/" is the share;
//   chroot     chroot into the shared dir (for containers that made the
//              namespaces already); /proc/self/fd is the host's, opened before,
//              so this is no stronger than none (broker/README.md "Threat model");
//   none       nothing (the broker's own checks still hold).
// In every mode the broker keeps two fds: the shared dir and /proc/self/fd.

#ifndef VIRTIOFSD_BROKER_SANDBOX_H_
#define VIRTIOFSD_BROKER_SANDBOX_H_

#include <string>

#include "absl/status/statusor.h"
#include "broker/options.h"
#include "common/unique_fd.h"

namespace virtiofsd {

struct SandboxFds {
  UniqueFd shared_dir;    // O_PATH directory fd of the share.
  UniqueFd proc_self_fd;  // O_PATH directory fd of /proc/self/fd.
};

// Enters `mode` around `shared_dir`. In namespace mode a process that is pid 1
// already (started by the launcher in a pid namespace of its own) stays the one
// process of its namespace. Otherwise it forks (a new pid namespace applies to
// children): the parent, without capabilities and under a seccomp filter that
// allows only waiting and exiting, waits and exits with the child's status, never
// returning; the child returns, as pid 1 of the new namespace. A pid 1 ignores
// the signals it has no handler for, SIGKILL from its parent's namespace aside.
// Errors carry the failing step and its errno.
absl::StatusOr<SandboxFds> EnterSandbox(SandboxMode mode, const std::string& shared_dir);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_SANDBOX_H_
