// What the FUSE session offers the guest, from the command line: cache policy and
// the optional protocol features. Pure data.

#ifndef VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_
#define VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_

#include "common/settings.h"

namespace virtiofsd {

struct FuseOptions {
  CachePolicy cache = CachePolicy::kAuto;
  bool writeback = false;
  bool readdirplus = true;
  bool announce_submounts = false;
  bool killpriv_v2 = false;
  bool posix_acl = false;
  bool allow_mmap = false;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_
