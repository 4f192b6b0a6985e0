#include "launcher/id_map.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

absl::StatusOr<uint32_t> ParseId(absl::string_view text, absl::string_view what) {
  uint32_t value = 0;
  // SimpleAtoi accepts a leading '+' and spaces; ids are plain decimal digits.
  if (text.empty() || text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a valid ", what, " (a number below 2^32)"));
  }
  return value;
}

// A range [base, base + count) must be non-empty and fit in 32 bits.
absl::Status CheckRange(uint32_t base, uint32_t count, absl::string_view what) {
  if (count == 0) return absl::InvalidArgumentError("count must be at least 1");
  if (uint64_t{base} + count > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " range ends past 2^32"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NamespaceIdMap> ParseNamespaceIdMap(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  // ":a:b:c:" splits into "", a, b, c, "".
  if (parts.size() != 5 || !parts[0].empty() || !parts[4].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not of the form :namespace_id:host_id:count:"));
  }
  NamespaceIdMap map;
  VFSD_ASSIGN_OR_RETURN(map.namespace_base, ParseId(parts[1], "namespace id"));
  VFSD_ASSIGN_OR_RETURN(map.host_base, ParseId(parts[2], "host id"));
  VFSD_ASSIGN_OR_RETURN(map.count, ParseId(parts[3], "count"));
  VFSD_RETURN_IF_ERROR(CheckRange(map.namespace_base, map.count, "namespace"));
  VFSD_RETURN_IF_ERROR(CheckRange(map.host_base, map.count, "host"));
  return map;
}

}  // namespace virtiofsd
