#include "launcher/id_map.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/id_range.h"
#include "common/status.h"

namespace virtiofsd {

absl::StatusOr<NamespaceIdMap> ParseNamespaceIdMap(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  // ":a:b:c:" splits into "", a, b, c, "".
  if (parts.size() != 5 || !parts[0].empty() || !parts[4].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not of the form :namespace_id:host_id:count:"));
  }
  NamespaceIdMap map;
  VFSD_ASSIGN_OR_RETURN(map.namespace_base, ParseIdNumber(parts[1], "namespace id"));
  VFSD_ASSIGN_OR_RETURN(map.host_base, ParseIdNumber(parts[2], "host id"));
  VFSD_ASSIGN_OR_RETURN(map.count, ParseIdNumber(parts[3], "count"));
  VFSD_RETURN_IF_ERROR(CheckIdRange(map.namespace_base, map.count, "namespace"));
  VFSD_RETURN_IF_ERROR(CheckIdRange(map.host_base, map.count, "host"));
  return map;
}

}  // namespace virtiofsd
