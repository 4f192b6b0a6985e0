#include "broker/id_translation.h"

#include <endian.h>
#include <errno.h>
#include <linux/posix_acl_xattr.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;
using Type = TranslateIdMap::Type;

TEST(TranslateIdMapTest, ParsesEveryType) {
  struct Case {
    const char* text;
    TranslateIdMap expected;
  };
  const Case cases[] = {
      {"guest:0:1000:10", {Type::kGuest, 0, 1000, 10}},
      {"host:1001:1000:1", {Type::kHost, 1001, 1000, 1}},
      {"squash-guest:0:1001:4294967295", {Type::kSquashGuest, 0, 1001, 4294967295u}},
      {"squash-host:5:7:3", {Type::kSquashHost, 5, 7, 3}},
      {"forbid-guest:100:50", {Type::kForbidGuest, 100, 0, 50}},
      {"map:0:100000:65536", {Type::kMap, 0, 100000, 65536}},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(TranslateIdMap map, ParseTranslateIdMap(c.text));
    EXPECT_EQ(map, c.expected) << c.text;
  }
}

TEST(TranslateIdMapTest, RejectsMalformedText) {
  for (const char* text :
       {"", "map", "map:0:1", "map:0:1:2:3", "forbid-guest:0:1:2", "squash:0:1:2", "MAP:0:1:2",
        "map:0:1:0", "map:x:1:1", "guest:4294967295:0:2", "map:0:4294967295:2"}) {
    EXPECT_THAT(ParseTranslateIdMap(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

TEST(TranslateIdMapTest, SquashTargetIsOneIdNotARange) {
  // The target of squash-* is a single id: only the source range must fit.
  EXPECT_OK(ParseTranslateIdMap("squash-guest:0:4294967295:100"));
}
IdTranslation Table(const std::vector<std::string>& rules) {
  absl::StatusOr<IdTranslation> table = IdTranslation::Parse(rules);
  EXPECT_OK(table.status());
  return table.ok() ? *std::move(table) : IdTranslation();
}

constexpr uint32_t kMax = 4294967295u;

TEST(IdTranslationTest, EmptyTableIsTheIdentity) {
  IdTranslation table;
  EXPECT_TRUE(table.empty());
  for (uint32_t id : {0u, 1u, 1000u, kMax}) {
    EXPECT_EQ(table.ToHost(id), id);
    EXPECT_EQ(table.ToGuest(id), id);
  }
}

TEST(IdTranslationTest, TranslatesEachDirectionByItsRules) {
  struct Case {
    std::vector<std::string> rules;
    uint32_t id;
    std::optional<uint32_t> to_host;  // nullopt: forbidden
    uint32_t to_guest;
  };
  const Case cases[] = {
      // guest: one direction only, both range edges and just outside.
      {{"guest:10:100:5"}, 9, 9, 9},
      {{"guest:10:100:5"}, 10, 100, 10},
      {{"guest:10:100:5"}, 14, 104, 14},
      {{"guest:10:100:5"}, 15, 15, 15},
      {{"guest:10:100:5"}, 100, 100, 100},  // host 100 is not mapped back
      // host: the other direction only.
      {{"host:100:10:5"}, 100, 100, 10},
      {{"host:100:10:5"}, 104, 104, 14},
      {{"host:100:10:5"}, 105, 105, 105},
      // squash-guest / squash-host: a range onto one id.
      {{"squash-guest:0:1000:4294967295"}, 0, 1000, 0},
      {{"squash-guest:0:1000:4294967295"}, kMax - 1, 1000, kMax - 1},
      {{"squash-guest:0:1000:4294967295"}, kMax, kMax, kMax},  // just past the range
      {{"squash-host:5:7:3"}, 6, 6, 7},
      {{"squash-host:5:7:3"}, 8, 8, 8},
      // forbid-guest: refused guest->host; host->guest untouched.
      {{"forbid-guest:100:2"}, 99, 99, 99},
      {{"forbid-guest:100:2"}, 100, std::nullopt, 100},
      {{"forbid-guest:100:2"}, 101, std::nullopt, 101},
      {{"forbid-guest:100:2"}, 102, 102, 102},
      // map: both directions.
      {{"map:0:100000:65536"}, 0, 100000, 0},
      {{"map:0:100000:65536"}, 65535, 165535, 65535},
      {{"map:0:100000:65536"}, 100000, 100000, 0},
      {{"map:0:100000:65536"}, 165535, 165535, 65535},
      {{"map:0:100000:65536"}, 165536, 165536, 165536},
      // A range that ends exactly at 2^32 (the highest id included).
      {{"map:4294967294:0:2"}, kMax, 1, kMax},
      {{"forbid-guest:4294967295:1"}, kMax, std::nullopt, kMax},
      // Disjoint rules, in any order.
      {{"squash-guest:0:1000:1000", "forbid-guest:1001:10", "map:1000:1000:1"}, 500, 1000, 500},
      {{"squash-guest:0:1000:1000", "forbid-guest:1001:10", "map:1000:1000:1"}, 1000, 1000, 1000},
      {{"squash-guest:0:1000:1000", "forbid-guest:1001:10", "map:1000:1000:1"},
       1005,
       std::nullopt,
       1005},
      {{"squash-guest:0:1000:1000", "forbid-guest:1001:10", "map:1000:1000:1"}, 1011, 1011, 1011},
      // Opposite directions may overlap freely: squash-guest and host back.
      {{"squash-guest:0:1001:4294967295", "host:1001:0:1"}, 0, 1001, 0},
      {{"squash-guest:0:1001:4294967295", "host:1001:0:1"}, 1001, 1001, 0},
  };
  for (const Case& c : cases) {
    IdTranslation table = Table(c.rules);
    EXPECT_EQ(table.ToHost(c.id), c.to_host) << c.rules[0] << " id " << c.id;
    EXPECT_EQ(table.ToGuest(c.id), c.to_guest) << c.rules[0] << " id " << c.id;
  }
}

TEST(IdTranslationTest, RefusesOverlappingRulesInOneDirection) {
  // The Rust virtiofsd refuses these too: no rule silently wins over another.
  const std::vector<std::vector<std::string>> cases = {
      {"guest:0:100:10", "guest:9:200:1"},
      {"guest:5:100:10", "squash-guest:0:0:6"},
      {"forbid-guest:0:1000", "map:999:999:1"},
      {"map:0:100:10", "host:109:0:1"},  // the host->guest half of map overlaps
      {"squash-host:0:0:4294967295", "squash-host:4294967294:0:2"},
      {"forbid-guest:10:10", "forbid-guest:0:11"},  // added before an existing one
  };
  for (const auto& rules : cases) {
    EXPECT_THAT(IdTranslation::Parse(rules), StatusIs(absl::StatusCode::kInvalidArgument))
        << rules[0] << " " << rules[1];
  }
}

TEST(IdTranslationTest, AdjacentRulesDoNotOverlap) {
  IdTranslation table = Table({"guest:0:100:10", "guest:10:500:10", "forbid-guest:20:1"});
  EXPECT_EQ(table.ToHost(9), 109u);
  EXPECT_EQ(table.ToHost(10), 500u);
  EXPECT_EQ(table.ToHost(19), 509u);
  EXPECT_EQ(table.ToHost(20), std::nullopt);
  EXPECT_EQ(table.ToHost(21), 21u);
}

TEST(IdTranslationTest, RefusesRangesPastTheTopBuiltByHand) {
  // The parser refuses these; Create() must not trust a hand-built rule either.
  const TranslateIdMap cases[] = {
      {Type::kGuest, kMax, 0, 2},
      {Type::kMap, 0, kMax, 2},
      {Type::kForbidGuest, 2, 0, kMax},
      {Type::kSquashHost, 0, 0, 0},
  };
  for (const TranslateIdMap& rule : cases) {
    EXPECT_THAT(IdTranslation::Create({rule}), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(IdTranslation::Parse({"guest:4294967295:0:2"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

std::string Acl(const std::vector<std::pair<uint16_t, uint32_t>>& entries) {
  std::string value(sizeof(posix_acl_xattr_header), '\0');
  const uint32_t version = htole32(POSIX_ACL_XATTR_VERSION);
  memcpy(value.data(), &version, sizeof(version));
  for (const auto& [tag, id] : entries) {
    posix_acl_xattr_entry entry{htole16(tag), htole16(7), htole32(id)};
    value.append(reinterpret_cast<const char*>(&entry), sizeof(entry));
  }
  return value;
}

constexpr uint16_t kUserObj = 0x01, kUser = 0x02, kGroup = 0x08, kMask = 0x10;

TEST(TranslateAclXattrTest, TranslatesUserAndGroupEntriesOnly) {
  IdTranslation uids = Table({"map:1000:2000:10"});
  IdTranslation gids = Table({"map:1000:3000:10", "forbid-guest:50:1"});
  std::string value = Acl({{kUserObj, kMax}, {kUser, 1001}, {kGroup, 1001}, {kMask, kMax}});
  ASSERT_EQ(TranslateAclXattr(value, true, uids, gids), 0);
  EXPECT_EQ(value, Acl({{kUserObj, kMax}, {kUser, 2001}, {kGroup, 3001}, {kMask, kMax}}));
  ASSERT_EQ(TranslateAclXattr(value, false, uids, gids), 0);
  EXPECT_EQ(value, Acl({{kUserObj, kMax}, {kUser, 1001}, {kGroup, 1001}, {kMask, kMax}}));

  std::string forbidden = Acl({{kGroup, 50}});
  EXPECT_EQ(TranslateAclXattr(forbidden, true, uids, gids), EPERM);
  // A uid 50 is not a gid 50.
  std::string allowed = Acl({{kUser, 50}});
  EXPECT_EQ(TranslateAclXattr(allowed, true, uids, gids), 0);
}

TEST(TranslateAclXattrTest, RefusesMalformedValues) {
  IdTranslation uids, gids;
  std::string bad_version = Acl({{kUser, 1}});
  bad_version[0] = 3;
  std::string truncated = Acl({{kUser, 1}});
  truncated.pop_back();
  for (std::string value : {std::string(), std::string("\x02\0\0"), bad_version, truncated}) {
    EXPECT_EQ(TranslateAclXattr(value, true, uids, gids), EINVAL);
  }
}

}  // namespace
}  // namespace virtiofsd
