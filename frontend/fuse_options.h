// What the FUSE session offers the guest, from the command line: cache policy and
// the optional protocol features. Pure data plus the policy's timeouts.

#ifndef VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_
#define VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace virtiofsd {

// --cache, with the Rust virtiofsd's meaning.
enum class CachePolicy { kAuto, kAlways, kNever, kMetadata };

std::optional<CachePolicy> ParseCachePolicy(absl::string_view name);

struct FuseOptions {
  CachePolicy cache = CachePolicy::kAuto;
  bool writeback = false;
  bool readdirplus = true;
  bool announce_submounts = false;
  bool killpriv_v2 = false;
  bool posix_acl = false;
  bool allow_mmap = false;
};

// Seconds the guest may cache entries and attributes under `policy`:
// auto 1, always 86400, never 0, metadata 86400.
uint64_t CacheTimeoutSeconds(CachePolicy policy);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_OPTIONS_H_
