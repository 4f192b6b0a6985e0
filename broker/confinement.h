// The broker's confinement as one function, the only one main.cc calls for it:
// the order of the steps matters, and confinement_test runs exactly this
// function and then attacks from inside (broker/README.md "Threat model").
//
//   1. file handles (--inode-file-handles) only where a handle cannot name an
//      inode outside the share: the share must be the root of its filesystem;
//   2. no supplementary groups;
//   3. the --sandbox mode (sandbox.h);
//   4. the capabilities (capabilities.h), less CAP_MKNOD when device nodes
//      on the share could be opened (a share without nodev, in chroot and none
//      modes: the namespace mode mounts it nodev);
//   5. no_new_privs;
//   6. Landlock: opens and changes only beneath the share (landlock.h);
//   7. the seccomp filter (seccomp_policy.h).

#ifndef VIRTIOFSD_BROKER_CONFINEMENT_H_
#define VIRTIOFSD_BROKER_CONFINEMENT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "broker/options.h"
#include "broker/sandbox.h"

namespace virtiofsd {

// Step 1 alone: kInvalidArgument, with a message naming the option, when the
// options cannot be honoured safely on this share (file handles on a share that
// is not a filesystem root); the executable prints it and exits 2.
absl::Status CheckConfinable(const BrokerOptions& options);

// Confines the calling process, single-threaded, as `options` say, keeping
// `capabilities` (BrokerCapabilities()) less what step 4 removes. Returns the
// fds the filesystem needs. In namespace mode the caller may continue in a
// forked child (sandbox.h). Errors: CheckConfinable()'s, or the failing step's errno.
absl::StatusOr<SandboxFds> ConfineBroker(const BrokerOptions& options, uint64_t capabilities);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_CONFINEMENT_H_
