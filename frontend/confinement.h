// Confines the frontend process before it reads a single guest byte: private
// mount, network, IPC and UTS namespaces with an empty read-only root (the PID
// namespace comes from the launcher), RLIMIT_NOFILE as the launcher says, an
// unprivileged uid/gid without supplementary groups, RLIMIT_NPROC at the thread
// bound when that uid is the instance's own, no capabilities (bounding set
// cleared), no_new_privs; and the seccomp allow-list of seccomp_policy.h, built
// here and put in force by the caller once the one vhost-user connection is
// accepted (the filter allows no accept).
//
// Must run while the process is single-threaded (unshare(CLONE_NEWNS) requires
// it). Started without root, the namespace, id and RLIMIT_NPROC steps are skipped
// (there is nothing to drop, and the uid is shared) and the rest still applies.

#ifndef VIRTIOFSD_FRONTEND_CONFINEMENT_H_
#define VIRTIOFSD_FRONTEND_CONFINEMENT_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "frontend/frontend_options.h"
#include "frontend/seccomp_policy.h"

namespace virtiofsd {

// The most threads the frontend ever runs: main (the vhost-user device), the
// broker client's receiver, the launcher link's watch, one per queue (hiprio + request queues) and
// the pool.
int FrontendThreadBound(const FrontendOptions& options);

// RLIMIT_NPROC with --unique-ids: the bound, plus room for queue threads being
// replaced (a joined thread is counted until the kernel has released it).
uint64_t FrontendProcessLimit(const FrontendOptions& options);

// Returns the seccomp filter to Install() once the connection is accepted.
absl::StatusOr<SeccompFilter> ConfineFrontend(const FrontendOptions& options);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_CONFINEMENT_H_
