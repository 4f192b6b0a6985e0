// What the broker's filesystem serves and how: the options that shape every
// handler (read-only, xattrs, id translation, file handles, the fd budget).
// Filled once at start-up from the command line (broker/main.cc).

#ifndef VIRTIOFSD_BROKER_FS_CONFIG_H_
#define VIRTIOFSD_BROKER_FS_CONFIG_H_

#include <cstdint>
#include <optional>

#include "broker/id_translation.h"
#include "broker/options.h"
#include "broker/xattr_map.h"

namespace virtiofsd {

struct FsConfig {
  bool readonly = false;
  bool xattr = false;
  bool posix_acl = false;
  bool announce_submounts = false;
  bool allow_direct_io = false;
  bool writeback = false;
  bool killpriv_v2 = false;
  bool preserve_noatime = false;
  // prefer: file handles for non-directories on the share's own mount (no fd
  // held), O_PATH fds elsewhere; mandatory: Create() fails without handle support.
  FileHandleMode inode_file_handles = FileHandleMode::kNever;
  std::optional<XattrMap> xattrmap;
  // --translate-uid/--translate-gid: callers, chown targets and ACL ids go
  // guest->host, attributes and ACL ids come back host->guest.
  IdTranslation uids;
  IdTranslation gids;
  // Fds held for nodes and handles at most; beyond it the guest gets ENFILE.
  int64_t fd_budget = 1 << 20;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_FS_CONFIG_H_
