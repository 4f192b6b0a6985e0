#include "launcher/id_map.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;
using Type = TranslateIdMap::Type;

TEST(NamespaceIdMapTest, ParsesTheRustForm) {
  ASSERT_OK_AND_ASSIGN(NamespaceIdMap map, ParseNamespaceIdMap(":0:100000:65536:"));
  EXPECT_EQ(map, (NamespaceIdMap{0, 100000, 65536}));
}

TEST(NamespaceIdMapTest, RejectsMalformedText) {
  for (const char* text : {"", "0:1000:1", ":0:1000:1", "0:1000:1:", ":0:1000:1:2:", ":a:1:1:",
                           ":0:1000:0:", ":-1:1:1:", ":+1:1:1:", ": 1:1:1:", ":4294967296:0:1:",
                           ":4294967295:0:2:", ":0:4294967295:2:"}) {
    EXPECT_THAT(ParseNamespaceIdMap(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

TEST(NamespaceIdMapTest, AcceptsARangeEndingAtTheTop) {
  ASSERT_OK_AND_ASSIGN(NamespaceIdMap map, ParseNamespaceIdMap(":4294967295:0:1:"));
  EXPECT_EQ(map, (NamespaceIdMap{4294967295u, 0, 1}));
}

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

}  // namespace
}  // namespace virtiofsd
