// Uid/gid translation between guest and host, as the Rust virtiofsd's
// --translate-uid/--translate-gid do it: rules in both directions, pure code.
//
// Rules ("TYPE:SOURCE:TARGET:COUNT", "forbid-guest:SOURCE:COUNT"):
//   guest:G:H:N         guest ids [G, G+N) become host ids [H, H+N)
//   host:H:G:N          host ids [H, H+N) become guest ids [G, G+N)
//   squash-guest:G:H:N  guest ids [G, G+N) all become host id H
//   squash-host:H:G:N   host ids [H, H+N) all become guest id G
//   forbid-guest:G:N    guest ids [G, G+N) are refused (the request fails, EPERM)
//   map:G:H:N           both guest:G:H:N and host:H:G:N
// An id no rule covers is kept as it is. Precedence, as in the Rust daemon: there
// is none to decide, because source ranges of one direction may not overlap (the
// table refuses such a rule list); the two directions are independent and need
// not be inverses of each other.
//
// The launcher checks its command line with this same parser (visibility in
// BUILD.bazel); the broker builds the tables.

#ifndef VIRTIOFSD_BROKER_ID_TRANSLATION_H_
#define VIRTIOFSD_BROKER_ID_TRANSLATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

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
// 1:1 types, the target range) within 32 bits. kInvalidArgument says what is wrong.
absl::StatusOr<TranslateIdMap> ParseTranslateIdMap(absl::string_view text);

// The translation of one kind of id (uids, or gids) in both directions.
class IdTranslation {
 public:
  // The identity: every id kept.
  IdTranslation() = default;

  // From rules in command-line order. kInvalidArgument, naming the rule, when a
  // rule's source range overlaps an earlier rule's in the same direction.
  static absl::StatusOr<IdTranslation> Create(const std::vector<TranslateIdMap>& rules);
  // Parses each rule first (ParseTranslateIdMap).
  static absl::StatusOr<IdTranslation> Parse(const std::vector<std::string>& rules);

  // The host id for guest id `id`; nullopt when a forbid-guest rule covers it.
  std::optional<uint32_t> ToHost(uint32_t id) const;
  // The guest id for host id `id` (never refused).
  uint32_t ToGuest(uint32_t id) const;

  // True when no rule was given (both directions are the identity).
  bool empty() const { return to_host_.empty() && to_guest_.empty(); }

 private:
  struct Range {
    uint64_t begin = 0;  // [begin, end), end up to 2^32
    uint64_t end = 0;
    enum class Kind { kShift, kSquash, kForbid } kind = Kind::kShift;
    uint32_t target = 0;  // first target id (kShift) or the single one (kSquash)
  };
  static absl::Status Add(std::vector<Range>& ranges, Range range, const TranslateIdMap& rule);
  static const Range* Find(const std::vector<Range>& ranges, uint32_t id);

  std::vector<Range> to_host_;   // sorted by begin, disjoint
  std::vector<Range> to_guest_;  // sorted by begin, disjoint
};

// The ids of a POSIX ACL xattr value (system.posix_acl_access/default: a 4-byte
// version header, then 8-byte entries {tag, perm, id}) rewritten in place: the
// ACL_USER entries through `uids`, the ACL_GROUP entries through `gids`. Returns 0,
// EINVAL for a value that is not a well-formed ACL, EPERM when `to_host` and an id
// is forbidden.
int TranslateAclXattr(std::string& value, bool to_host, const IdTranslation& uids,
                      const IdTranslation& gids);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_ID_TRANSLATION_H_
