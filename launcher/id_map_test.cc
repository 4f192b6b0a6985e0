#include "launcher/id_map.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;

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

}  // namespace
}  // namespace virtiofsd
