// The frontend's settings, read from the FrontendConfig the launcher hands it
// (proto/config.proto, common/child_config.h) and checked as any outside input:
// the frontend may be started by hand with anything on fd 6. Pure: no I/O; every
// error names the field.

#ifndef VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_
#define VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/logging.h"
#include "common/settings.h"
#include "frontend/fuse_options.h"
#include "proto/config.pb.h"

namespace virtiofsd {

struct FrontendOptions {
  int channel_fd = -1;
  int listen_fd = -1;  // An inherited listening vhost-user socket.
  std::string tag;
  FuseOptions fuse;
  int thread_pool_size = 0;
  int request_queues = 1;
  SeccompAction seccomp = SeccompAction::kKill;
  // Confinement: the ids the frontend runs as (default: nobody / nogroup), and
  // whether to confine at all (tests of the device alone may skip it).
  unsigned sandbox_uid = 65534;
  unsigned sandbox_gid = 65534;
  // No other process has these ids (the launcher gives each
  // instance its own), so RLIMIT_NPROC can cap this process's threads.
  bool unique_ids = false;
  // RLIMIT_NOFILE to run with, the broker's too; 0 keeps it.
  uint64_t rlimit_nofile = 0;
  bool sandbox = true;
  LogLevel log_level = LogLevel::kInfo;
  // Log lines go to the launcher there (common/launcher_link.h); -1: to stderr.
  int launcher_fd = -1;
};

// The checked settings of `config`: required fds present, names known, numbers
// in range.
absl::StatusOr<FrontendOptions> FrontendOptionsFromConfig(const proto::FrontendConfig& config);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FRONTEND_OPTIONS_H_
