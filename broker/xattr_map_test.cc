#include "broker/xattr_map.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::Eq;
using ::testing::Optional;
using ::virtiofsd::testing::StatusIs;

TEST(XattrMapTest, PrefixEverything) {
  ASSERT_OK_AND_ASSIGN(XattrMap map, XattrMap::Parse(":prefix:all::user.virtiofs.::bad:all:::"));
  EXPECT_THAT(map.ToHost("security.selinux"), Optional(Eq("user.virtiofs.security.selinux")));
  EXPECT_THAT(map.ToGuest("user.virtiofs.security.selinux"), Optional(Eq("security.selinux")));
  EXPECT_EQ(map.ToGuest("security.selinux"), std::nullopt);  // Hidden host attribute.
}

TEST(XattrMapTest, QemuExampleTwoWithNewlinesAndSlash) {
  ASSERT_OK_AND_ASSIGN(XattrMap map, XattrMap::Parse("/prefix/all/trusted./user.virtiofs./\n"
                                                     " /bad/server//trusted./\n"
                                                     " /bad/client/user.virtiofs.//\n"
                                                     " /ok/all///"));
  EXPECT_THAT(map.ToHost("trusted.overlay"), Optional(Eq("user.virtiofs.trusted.overlay")));
  EXPECT_THAT(map.ToHost("user.x"), Optional(Eq("user.x")));
  EXPECT_EQ(map.ToHost("user.virtiofs.trusted.x"), std::nullopt);
  EXPECT_THAT(map.ToGuest("user.virtiofs.trusted.a"), Optional(Eq("trusted.a")));
  EXPECT_EQ(map.ToGuest("trusted.a"), std::nullopt);
  EXPECT_THAT(map.ToGuest("user.y"), Optional(Eq("user.y")));
}

TEST(XattrMapTest, MapShorthandWithKey) {
  ASSERT_OK_AND_ASSIGN(XattrMap map, XattrMap::Parse(":map:security.:user.virtiofs.:"));
  ASSERT_EQ(map.rules().size(), 4u);
  EXPECT_THAT(map.ToHost("security.capability"), Optional(Eq("user.virtiofs.security.capability")));
  EXPECT_EQ(map.ToHost("user.virtiofs.x"), std::nullopt);  // No direct access.
  EXPECT_THAT(map.ToHost("user.z"), Optional(Eq("user.z")));
  EXPECT_EQ(map.ToGuest("security.selinux"), std::nullopt);  // Host's own: hidden.
  EXPECT_THAT(map.ToGuest("user.virtiofs.security.selinux"), Optional(Eq("security.selinux")));
}

TEST(XattrMapTest, MapShorthandWithoutKey) {
  ASSERT_OK_AND_ASSIGN(XattrMap map, XattrMap::Parse(":map::user.virtiofs.:"));
  EXPECT_THAT(map.ToHost("user.a"), Optional(Eq("user.virtiofs.user.a")));
  EXPECT_EQ(map.ToGuest("user.a"), std::nullopt);
}

TEST(XattrMapTest, NoMatchRefusesAndHides) {
  ASSERT_OK_AND_ASSIGN(XattrMap map, XattrMap::Parse(":ok:client:user.::"));
  EXPECT_THAT(map.ToHost("user.a"), Optional(Eq("user.a")));
  EXPECT_EQ(map.ToHost("trusted.a"), std::nullopt);
  EXPECT_EQ(map.ToGuest("user.a"), std::nullopt);  // No server-scope rule.
}

TEST(XattrMapTest, Malformed) {
  for (const char* rules : {"", "   ", ":prefix:all:a",
                            ":frob:all:::", ":ok:everywhere:::", ":map:a:b::ok:all:::", ":map:a"}) {
    EXPECT_THAT(XattrMap::Parse(rules), StatusIs(absl::StatusCode::kInvalidArgument)) << rules;
  }
}

}  // namespace
}  // namespace virtiofsd
