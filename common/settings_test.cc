#include "common/settings.h"

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

template <typename T>
void ExpectRoundTrip(std::initializer_list<T> values,
                     std::optional<T> (*parse)(absl::string_view)) {
  for (T value : values) {
    ASSERT_FALSE(NameOf(value).empty());
    EXPECT_EQ(parse(NameOf(value)), value) << NameOf(value);
  }
}

TEST(SettingsTest, EveryValueHasANameThatParsesBack) {
  ExpectRoundTrip({SandboxMode::kNamespace, SandboxMode::kChroot, SandboxMode::kNone},
                  ParseSandboxMode);
  ExpectRoundTrip(
      {SeccompAction::kKill, SeccompAction::kLog, SeccompAction::kTrap, SeccompAction::kNone},
      ParseSeccompAction);
  ExpectRoundTrip(
      {CachePolicy::kAuto, CachePolicy::kAlways, CachePolicy::kNever, CachePolicy::kMetadata},
      ParseCachePolicy);
  ExpectRoundTrip({FileHandleMode::kNever, FileHandleMode::kPrefer, FileHandleMode::kMandatory},
                  ParseFileHandleMode);
}

TEST(SettingsTest, TheCommandLineSpellings) {
  EXPECT_EQ(NameOf(SandboxMode::kNamespace), "namespace");
  EXPECT_EQ(NameOf(SeccompAction::kTrap), "trap");
  EXPECT_EQ(NameOf(CachePolicy::kMetadata), "metadata");
  EXPECT_EQ(NameOf(FileHandleMode::kPrefer), "prefer");
}

TEST(SettingsTest, UnknownNamesAndAliasesAreNotValues) {
  EXPECT_EQ(ParseCachePolicy("none"), std::nullopt);  // The launcher's alias of never.
  EXPECT_EQ(ParseFileHandleMode("fallback"), std::nullopt);
  EXPECT_EQ(ParseSeccompAction("KILL"), std::nullopt);
  EXPECT_EQ(ParseSandboxMode(""), std::nullopt);
}

TEST(SettingsTest, CacheTimeouts) {
  EXPECT_EQ(CacheTimeoutSeconds(CachePolicy::kAuto), 1u);
  EXPECT_EQ(CacheTimeoutSeconds(CachePolicy::kAlways), 86400u);
  EXPECT_EQ(CacheTimeoutSeconds(CachePolicy::kNever), 0u);
  EXPECT_EQ(CacheTimeoutSeconds(CachePolicy::kMetadata), 86400u);
}

}  // namespace
}  // namespace virtiofsd
