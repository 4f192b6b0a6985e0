// Command line of the virtiofsd-frontend executable (the launcher builds it; see
// README "Processes"). Pure parsing: no I/O, every error names the option.
//
//   virtiofsd-frontend --channel-fd=N (--fd=N | --socket-path=PATH) [--tag=TAG]
//       [--cache=auto|always|never|metadata] [--writeback] [--no-readdirplus]
//       [--allow-direct-io] [--announce-submounts] [--killpriv-v2] [--posix-acl]
//       [--xattr] [--allow-mmap] [--thread-pool-size=N] [--request-queues=N]
//       [--seccomp=kill|log|trap|none] [--sandbox-uid=N] [--sandbox-gid=N]
//       [--unique-ids] [--rlimit-nofile=N] [--no-sandbox] [--log-level=LEVEL] [--launcher-fd=N]

#ifndef VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_
#define VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logging.h"
#include "common/settings.h"
#include "frontend/fuse_options.h"

namespace virtiofsd {

struct FrontendOptions {
  int channel_fd = -1;
  int listen_fd = -1;       // --fd: an inherited listening vhost-user socket.
  std::string socket_path;  // --socket-path: bind one ourselves.
  std::string tag;
  FuseOptions fuse;
  int thread_pool_size = 0;
  int request_queues = 1;
  SeccompAction seccomp = SeccompAction::kKill;
  // Confinement: the ids the frontend runs as (default: nobody / nogroup), and
  // whether to confine at all (tests of the device alone may skip it).
  unsigned sandbox_uid = 65534;
  unsigned sandbox_gid = 65534;
  // --unique-ids: no other process has these ids (the launcher gives each
  // instance its own), so RLIMIT_NPROC can cap this process's threads.
  bool unique_ids = false;
  // --rlimit-nofile: RLIMIT_NOFILE to run with, the broker's too; 0 keeps it.
  uint64_t rlimit_nofile = 0;
  bool sandbox = true;
  LogLevel log_level = LogLevel::kInfo;
  // Log lines go to the launcher there (common/launcher_link.h); -1: to stderr.
  int launcher_fd = -1;
};

// Parses argv[1..]. kInvalidArgument names the offending option.
absl::StatusOr<FrontendOptions> ParseFrontendOptions(const std::vector<std::string>& args);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_
