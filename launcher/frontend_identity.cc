#include "launcher/frontend_identity.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace virtiofsd {

bool IdIsMapped(absl::string_view map, uint32_t id) {
  for (absl::string_view line : absl::StrSplit(map, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t first, outside, count;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[0], &first) ||
        !absl::SimpleAtoi(fields[1], &outside) || !absl::SimpleAtoi(fields[2], &count)) {
      continue;
    }
    if (id >= first && id - first < count) return true;
  }
  return false;
}

FrontendIdentity ChooseFrontendIdentity(uint32_t base, uint32_t pid, absl::string_view uid_map,
                                        absl::string_view gid_map) {
  if (base == 0 || pid == 0 || pid > kMaxPid || base > UINT32_MAX - 1 - kMaxPid) return {};
  const uint32_t id = base + pid;
  if (!IdIsMapped(uid_map, id) || !IdIsMapped(gid_map, id)) return {};
  return {id, id, true};
}

}  // namespace virtiofsd
