#include "frontend/fuse_options.h"

namespace virtiofsd {

std::optional<CachePolicy> ParseCachePolicy(absl::string_view name) {
  if (name == "auto") return CachePolicy::kAuto;
  if (name == "always") return CachePolicy::kAlways;
  if (name == "never" || name == "none") return CachePolicy::kNever;
  if (name == "metadata") return CachePolicy::kMetadata;
  return std::nullopt;
}

uint64_t CacheTimeoutSeconds(CachePolicy policy) {
  switch (policy) {
    case CachePolicy::kAuto:
      return 1;
    case CachePolicy::kNever:
      return 0;
    case CachePolicy::kAlways:
    case CachePolicy::kMetadata:
      break;
  }
  return 86400;
}

}  // namespace virtiofsd
