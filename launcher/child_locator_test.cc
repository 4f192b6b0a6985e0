#include "launcher/child_locator.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::ElementsAre;

TEST(ChildLocatorTest, NextToUsThenTheBazelLayout) {
  EXPECT_THAT(ChildCandidates(kFrontendBinary, "/usr/libexec", std::nullopt),
              ElementsAre("/usr/libexec/virtiofsd-frontend",
                          "/usr/libexec/../frontend/virtiofsd-frontend"));
  EXPECT_THAT(ChildCandidates(kBrokerBinary, "/b/bin/launcher", std::nullopt),
              ElementsAre("/b/bin/launcher/virtiofsd-broker",
                          "/b/bin/launcher/../broker/virtiofsd-broker"));
}

TEST(ChildLocatorTest, TheEnvironmentOverrideIsTheOnlyCandidate) {
  EXPECT_THAT(ChildCandidates(kBrokerBinary, "/usr/libexec", "/opt/broker"),
              ElementsAre("/opt/broker"));
}

TEST(ChildLocatorTest, MissingBinaryNamesWhatWasTried) {
  setenv("VIRTIOFSD_BROKER", "/nonexistent/broker", 1);
  absl::StatusOr<std::string> path = FindChildBinary(kBrokerBinary);
  unsetenv("VIRTIOFSD_BROKER");
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(path.status().message()), ::testing::HasSubstr("/nonexistent/broker"));
}

TEST(ChildLocatorTest, FindsAnExecutableOverride) {
  setenv("VIRTIOFSD_FRONTEND", "/bin/true", 1);
  absl::StatusOr<std::string> path = FindChildBinary(kFrontendBinary);
  unsetenv("VIRTIOFSD_FRONTEND");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, "/bin/true");
}

TEST(ChildLocatorTest, ADirectoryIsNotAnExecutable) {
  setenv("VIRTIOFSD_FRONTEND", "/usr/bin", 1);
  absl::StatusOr<std::string> path = FindChildBinary(kFrontendBinary);
  unsetenv("VIRTIOFSD_FRONTEND");
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace virtiofsd
