// The broker's settings, read from the BrokerConfig the launcher hands it
// (proto/config.proto, common/child_config.h) and checked as any outside input:
// the broker may be started by hand with anything on fd 6. Pure: no I/O.
//
// Errors are kInvalidArgument with a message naming the field; the executable
// prints it and exits 2.

#ifndef VIRTIOFSD_BROKER_OPTIONS_H_
#define VIRTIOFSD_BROKER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/logging.h"
#include "common/settings.h"
#include "proto/config.pb.h"

namespace virtiofsd {

struct BrokerOptions {
  int channel_fd = -1;
  std::string shared_dir;
  SandboxMode sandbox = SandboxMode::kNamespace;
  SeccompAction seccomp = SeccompAction::kKill;
  bool xattr = false;
  bool posix_acl = false;  // Implies xattr.
  bool readonly = false;
  FileHandleMode inode_file_handles = FileHandleMode::kNever;
  bool announce_submounts = false;
  bool allow_direct_io = false;
  bool writeback = false;
  bool killpriv_v2 = false;
  bool preserve_noatime = false;
  std::string xattrmap;  // Rules in the Rust virtiofsd syntax; empty: none.
  // --translate-uid/--translate-gid rules, one per element, in order
  // (broker/id_translation.h).
  std::vector<std::string> translate_uid;
  std::vector<std::string> translate_gid;
  // Capability changes, e.g. "+sys_admin,-mknod" (names without CAP_, any case).
  std::vector<std::string> modcaps;
  uint64_t rlimit_nofile = 0;  // 0: raise to the default (capped below fs.file-max).
  int threads = 4;
  LogLevel log_level = LogLevel::kInfo;
  // Log lines go to the launcher there (common/launcher_link.h); -1: to stderr.
  int launcher_fd = -1;
};

// The checked settings of `config`: required fields present, names known,
// numbers in range, posix_acl implying xattr, xattrmap only with xattr.
absl::StatusOr<BrokerOptions> BrokerOptionsFromConfig(const proto::BrokerConfig& config);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_OPTIONS_H_
