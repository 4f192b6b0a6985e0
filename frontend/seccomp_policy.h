// The frontend's seccomp allow-list: what moving bytes between sockets, eventfds,
// guest memory and donated file fds needs, and nothing that names a path or makes
// a socket. execve, socket, connect and every other unlisted call kill the process;
// open/openat/openat2 fail with EACCES (glibc opens files lazily and copes).

#ifndef VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_
#define VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_

#include "absl/status/status.h"
#include "frontend/frontend_options.h"

namespace virtiofsd {

// Installs the filter on every thread of the process (TSYNC). Anything not on the
// list gets `action` (kill: the whole process dies of SIGSYS). kNone installs nothing.
absl::Status InstallFrontendSeccomp(SeccompAction action);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_SECCOMP_POLICY_H_
