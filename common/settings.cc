#include "common/settings.h"

namespace virtiofsd {
namespace {

template <typename T, size_t N>
absl::string_view Name(const std::pair<absl::string_view, T> (&names)[N], T value) {
  for (const auto& [name, item] : names) {
    if (item == value) return name;
  }
  return "";
}

template <typename T, size_t N>
std::optional<T> Parse(const std::pair<absl::string_view, T> (&names)[N], absl::string_view name) {
  for (const auto& [spelling, item] : names) {
    if (spelling == name) return item;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view NameOf(SandboxMode mode) { return Name(kSandboxModeNames, mode); }
absl::string_view NameOf(SeccompAction action) { return Name(kSeccompActionNames, action); }
absl::string_view NameOf(CachePolicy policy) { return Name(kCachePolicyNames, policy); }
absl::string_view NameOf(FileHandleMode mode) { return Name(kFileHandleModeNames, mode); }

std::optional<SandboxMode> ParseSandboxMode(absl::string_view name) {
  return Parse(kSandboxModeNames, name);
}
std::optional<SeccompAction> ParseSeccompAction(absl::string_view name) {
  return Parse(kSeccompActionNames, name);
}
std::optional<CachePolicy> ParseCachePolicy(absl::string_view name) {
  return Parse(kCachePolicyNames, name);
}
std::optional<FileHandleMode> ParseFileHandleMode(absl::string_view name) {
  return Parse(kFileHandleModeNames, name);
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
