#include "launcher/frontend_identity.h"

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

constexpr absl::string_view kHostMap = "         0          0 4294967295\n";
// podman unshare: root is the user, then a subuid range.
constexpr absl::string_view kPodmanMap = "0 1000 1\n1 100000 65536\n";

TEST(FrontendIdentityTest, OnTheHostEachLauncherPidGivesItsOwnIds) {
  FrontendIdentity a = ChooseFrontendIdentity(kDefaultFrontendIdBase, 1234, kHostMap, kHostMap);
  FrontendIdentity b = ChooseFrontendIdentity(kDefaultFrontendIdBase, 1235, kHostMap, kHostMap);
  EXPECT_TRUE(a.unique);
  EXPECT_EQ(a.uid, kDefaultFrontendIdBase + 1234);
  EXPECT_EQ(a.gid, a.uid);
  EXPECT_NE(a.uid, b.uid);
}

TEST(FrontendIdentityTest, AnUnmappedIdFallsBackToTheSharedNobody) {
  FrontendIdentity shared =
      ChooseFrontendIdentity(kDefaultFrontendIdBase, 1234, kPodmanMap, kPodmanMap);
  EXPECT_FALSE(shared.unique);
  EXPECT_EQ(shared.uid, 65534u);
  EXPECT_EQ(shared.gid, 65534u);
  // A base that lands inside the namespace's range is used.
  EXPECT_TRUE(ChooseFrontendIdentity(1000, 2000, kPodmanMap, kPodmanMap).unique);
  // Both maps must hold it.
  EXPECT_FALSE(ChooseFrontendIdentity(1000, 2000, kPodmanMap, "0 0 1\n").unique);
}

TEST(FrontendIdentityTest, BaseZeroOrAnOverflowingBaseMeansNobody) {
  EXPECT_FALSE(ChooseFrontendIdentity(0, 1234, kHostMap, kHostMap).unique);
  EXPECT_FALSE(ChooseFrontendIdentity(UINT32_MAX - 10, 1234, kHostMap, kHostMap).unique);
  EXPECT_FALSE(ChooseFrontendIdentity(1000, kMaxPid + 1, kHostMap, kHostMap).unique);
}

TEST(FrontendIdentityTest, MapParsing) {
  EXPECT_TRUE(IdIsMapped(kPodmanMap, 0));
  EXPECT_TRUE(IdIsMapped(kPodmanMap, 65536));
  EXPECT_FALSE(IdIsMapped(kPodmanMap, 65537));
  EXPECT_FALSE(IdIsMapped("", 0));
  EXPECT_FALSE(IdIsMapped("garbage\n", 0));
}

}  // namespace
}  // namespace virtiofsd
