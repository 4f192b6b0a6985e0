#include "broker/id_translation.h"

#include <endian.h>
#include <errno.h>
#include <linux/posix_acl_xattr.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/id_range.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

// ACL entry tags (linux/posix_acl.h, not installed as a UAPI header).
constexpr uint16_t kAclUser = 0x02;
constexpr uint16_t kAclGroup = 0x08;

constexpr std::pair<absl::string_view, TranslateIdMap::Type> kTypes[] = {
    {"guest", TranslateIdMap::Type::kGuest},
    {"host", TranslateIdMap::Type::kHost},
    {"squash-guest", TranslateIdMap::Type::kSquashGuest},
    {"squash-host", TranslateIdMap::Type::kSquashHost},
    {"forbid-guest", TranslateIdMap::Type::kForbidGuest},
    {"map", TranslateIdMap::Type::kMap},
};

// The rule as it is written on the command line.
std::string RuleText(const TranslateIdMap& rule) {
  absl::string_view name = "?";
  for (const auto& [text, value] : kTypes) {
    if (value == rule.type) name = text;
  }
  if (rule.type == TranslateIdMap::Type::kForbidGuest) {
    return absl::StrCat(name, ":", rule.source_base, ":", rule.count);
  }
  return absl::StrCat(name, ":", rule.source_base, ":", rule.target, ":", rule.count);
}

}  // namespace

absl::StatusOr<TranslateIdMap> ParseTranslateIdMap(absl::string_view text) {
  using Type = TranslateIdMap::Type;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  const Type* type = nullptr;
  for (const auto& [name, value] : kTypes) {
    if (!parts.empty() && parts[0] == name) type = &value;
  }
  if (type == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text,
        "' does not start with guest, host, squash-guest, squash-host, forbid-guest or map"));
  }
  const bool forbid = *type == Type::kForbidGuest;
  const size_t expected_parts = forbid ? 3 : 4;
  if (parts.size() != expected_parts) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not of the form ",
                     forbid ? "forbid-guest:BASE:COUNT" : "TYPE:SOURCE_BASE:TARGET:COUNT"));
  }
  TranslateIdMap map;
  map.type = *type;
  VFSD_ASSIGN_OR_RETURN(map.source_base, ParseIdNumber(parts[1], "source id"));
  if (!forbid) {
    VFSD_ASSIGN_OR_RETURN(map.target, ParseIdNumber(parts[2], "target id"));
  }
  VFSD_ASSIGN_OR_RETURN(map.count, ParseIdNumber(parts.back(), "count"));
  VFSD_RETURN_IF_ERROR(CheckIdRange(map.source_base, map.count, "source"));
  const bool one_to_one = *type == Type::kGuest || *type == Type::kHost || *type == Type::kMap;
  if (one_to_one) VFSD_RETURN_IF_ERROR(CheckIdRange(map.target, map.count, "target"));
  return map;
}

absl::Status IdTranslation::Add(std::vector<Range>& ranges, Range range,
                                const TranslateIdMap& rule) {
  auto after = std::upper_bound(ranges.begin(), ranges.end(), range.begin,
                                [](uint64_t begin, const Range& r) { return begin < r.begin; });
  const bool overlaps_next = after != ranges.end() && after->begin < range.end;
  const bool overlaps_previous = after != ranges.begin() && std::prev(after)->end > range.begin;
  if (overlaps_next || overlaps_previous) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", RuleText(rule), "': ids [", range.begin, ", ", range.end,
                     ") overlap an earlier rule of the same direction"));
  }
  ranges.insert(after, range);
  return absl::OkStatus();
}

absl::StatusOr<IdTranslation> IdTranslation::Create(const std::vector<TranslateIdMap>& rules) {
  using Type = TranslateIdMap::Type;
  using Kind = Range::Kind;
  IdTranslation table;
  for (const TranslateIdMap& rule : rules) {
    const uint64_t source_end = uint64_t{rule.source_base} + rule.count;
    const uint64_t target_end = uint64_t{rule.target} + rule.count;
    // The parser refuses these; rules built by hand are checked the same way.
    VFSD_RETURN_IF_ERROR(CheckIdRange(rule.source_base, rule.count, "source"));
    if (rule.type == Type::kGuest || rule.type == Type::kHost || rule.type == Type::kMap) {
      VFSD_RETURN_IF_ERROR(CheckIdRange(rule.target, rule.count, "target"));
    }
    absl::Status added;
    switch (rule.type) {
      case Type::kGuest:
        added =
            Add(table.to_host_, {rule.source_base, source_end, Kind::kShift, rule.target}, rule);
        break;
      case Type::kHost:
        added =
            Add(table.to_guest_, {rule.source_base, source_end, Kind::kShift, rule.target}, rule);
        break;
      case Type::kSquashGuest:
        added =
            Add(table.to_host_, {rule.source_base, source_end, Kind::kSquash, rule.target}, rule);
        break;
      case Type::kSquashHost:
        added =
            Add(table.to_guest_, {rule.source_base, source_end, Kind::kSquash, rule.target}, rule);
        break;
      case Type::kForbidGuest:
        added = Add(table.to_host_, {rule.source_base, source_end, Kind::kForbid, 0}, rule);
        break;
      case Type::kMap:
        added =
            Add(table.to_host_, {rule.source_base, source_end, Kind::kShift, rule.target}, rule);
        if (added.ok()) {
          added =
              Add(table.to_guest_, {rule.target, target_end, Kind::kShift, rule.source_base}, rule);
        }
        break;
    }
    if (!added.ok()) return added;
  }
  return table;
}

absl::StatusOr<IdTranslation> IdTranslation::Parse(const std::vector<std::string>& rules) {
  std::vector<TranslateIdMap> parsed;
  for (const std::string& text : rules) {
    VFSD_ASSIGN_OR_RETURN(TranslateIdMap rule, ParseTranslateIdMap(text));
    parsed.push_back(rule);
  }
  return Create(parsed);
}

const IdTranslation::Range* IdTranslation::Find(const std::vector<Range>& ranges, uint32_t id) {
  auto after = std::upper_bound(ranges.begin(), ranges.end(), uint64_t{id},
                                [](uint64_t value, const Range& r) { return value < r.begin; });
  if (after == ranges.begin()) return nullptr;
  const Range& range = *std::prev(after);
  return id < range.end ? &range : nullptr;
}

std::optional<uint32_t> IdTranslation::ToHost(uint32_t id) const {
  const Range* range = Find(to_host_, id);
  if (range == nullptr) return id;
  switch (range->kind) {
    case Range::Kind::kShift:
      return static_cast<uint32_t>(range->target + (id - range->begin));
    case Range::Kind::kSquash:
      return range->target;
    case Range::Kind::kForbid:
      return std::nullopt;
  }
  return std::nullopt;
}

uint32_t IdTranslation::ToGuest(uint32_t id) const {
  const Range* range = Find(to_guest_, id);
  if (range == nullptr) return id;
  // No forbid rule exists in this direction.
  return range->kind == Range::Kind::kSquash
             ? range->target
             : static_cast<uint32_t>(range->target + (id - range->begin));
}

int TranslateAclXattr(std::string& value, bool to_host, const IdTranslation& uids,
                      const IdTranslation& gids) {
  constexpr size_t kHeader = sizeof(posix_acl_xattr_header);
  constexpr size_t kEntry = sizeof(posix_acl_xattr_entry);
  if (value.size() < kHeader || (value.size() - kHeader) % kEntry != 0) return EINVAL;
  uint32_t version = 0;
  memcpy(&version, value.data(), sizeof(version));
  if (le32toh(version) != POSIX_ACL_XATTR_VERSION) return EINVAL;
  for (size_t offset = kHeader; offset < value.size(); offset += kEntry) {
    posix_acl_xattr_entry entry;
    memcpy(&entry, value.data() + offset, kEntry);
    const uint16_t tag = le16toh(entry.e_tag);
    if (tag != kAclUser && tag != kAclGroup) continue;
    const IdTranslation& table = tag == kAclUser ? uids : gids;
    const uint32_t id = le32toh(entry.e_id);
    uint32_t translated = 0;
    if (to_host) {
      std::optional<uint32_t> host = table.ToHost(id);
      if (!host) return EPERM;
      translated = *host;
    } else {
      translated = table.ToGuest(id);
    }
    entry.e_id = htole32(translated);
    memcpy(value.data() + offset, &entry, kEntry);
  }
  return 0;
}

}  // namespace virtiofsd
