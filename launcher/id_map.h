// The user-namespace mapping arguments of the Rust virtiofsd's command line, parsed.
//
// --uid-map/--gid-map take ":namespace_id:host_id:count:" (a user-namespace range).
// (--translate-uid/--translate-gid are parsed by broker/id_translation.h.)
// Pure parsing: no syscalls. Errors are kInvalidArgument with a
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

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_ID_MAP_H_
