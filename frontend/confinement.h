// Confines the frontend process before it reads a single guest byte: private
// mount, network, IPC and UTS namespaces with an empty read-only root, an
// unprivileged uid/gid without supplementary groups, no capabilities (bounding set
// cleared), no_new_privs, and the seccomp allow-list of seccomp_policy.h.
//
// Must run while the process is single-threaded (unshare(CLONE_NEWNS) requires
// it). Started without root, the namespace and id steps are skipped (there is
// nothing to drop) and the rest still applies.

#ifndef VIRTIOFSD_FRONTEND_CONFINEMENT_H_
#define VIRTIOFSD_FRONTEND_CONFINEMENT_H_

#include "absl/status/status.h"
#include "frontend/frontend_options.h"

namespace virtiofsd {

absl::Status ConfineFrontend(const FrontendOptions& options);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_CONFINEMENT_H_
