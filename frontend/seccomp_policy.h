// The frontend's seccomp allow-list: what moving bytes between sockets, eventfds,
// guest memory and donated file fds needs, and nothing that names a path, makes
// a socket or accepts a connection. execve, socket, connect, accept and every
// other unlisted call kill the process; tgkill reaches only this process's own
// threads; open/openat/openat2 fail with EACCES (glibc opens files lazily and
// copes).

#ifndef VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_
#define VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/seccomp_builder.h"
#include "common/settings.h"

namespace virtiofsd {

// The filter, built (so start-up errors show at once) but not yet in force.
// Anything not on the list gets `action` (kill: the whole process dies of
// SIGSYS); kNone builds a filter that installs nothing. The tgkill rule names
// the calling process: build it in the process that installs it.
absl::StatusOr<SeccompFilter> BuildFrontendSeccompFilter(SeccompAction action);

// Build() and Install() at once.
absl::Status InstallFrontendSeccomp(SeccompAction action);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_
