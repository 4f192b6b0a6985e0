// The uid/gid mapping arguments of the Rust virtiofsd's command line, parsed.
//
// --uid-map/--gid-map take ":namespace_id:host_id:count:" (a user-namespace range);
// --translate-uid/--translate-gid take "TYPE:a:b:count" (translation done by the
// daemon itself). Pure parsing: no syscalls. Errors are kInvalidArgument with a
// message that says what is wrong with the text.

#ifndef VIRTIOFSD_LAUNCHER_ID_MAP_H_
#define VIRTIOFSD_LAUNCHER_ID_MAP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// One range of a user namespace's uid_map/gid_map.
struct NamespaceIdMap {
  uint32_t namespace_base = 0;
  uint32_t host_base = 0;
  uint32_t count = 0;
  bool operator==(const NamespaceIdMap&) const = default;
};

// ":namespace_base:host_base:count:" with count > 0 and neither range wrapping
// past 2^32.
absl::StatusOr<NamespaceIdMap> ParseNamespaceIdMap(absl::string_view text);

// One --translate-uid/--translate-gid rule.
struct TranslateIdMap {
  enum class Type { kGuest, kHost, kSquashGuest, kSquashHost, kForbidGuest, kMap };
  Type type = Type::kMap;
  uint32_t source_base = 0;
  uint32_t target = 0;  // target base, or the single target for squash-*; 0 for forbid-guest
  uint32_t count = 0;
  bool operator==(const TranslateIdMap&) const = default;
};

// "guest|host|squash-guest|squash-host|map:SOURCE:TARGET:COUNT" or
// "forbid-guest:SOURCE:COUNT", with count > 0 and the source range (and, for the
// 1:1 types, the target range) within 32 bits.
absl::StatusOr<TranslateIdMap> ParseTranslateIdMap(absl::string_view text);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_ID_MAP_H_
