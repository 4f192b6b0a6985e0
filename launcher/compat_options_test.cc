#include "launcher/compat_options.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::virtiofsd::testing::StatusIs;

TEST(CompatOptionsTest, ValuedItemsMapAsTheRustDaemonMapsThem) {
  Options o;
  bool security_label = false;
  ASSERT_TRUE(ApplyCompatOption("source=/srv", o, security_label).ok());
  ASSERT_TRUE(ApplyCompatOption("cache=none", o, security_label).ok());
  ASSERT_TRUE(ApplyCompatOption("loglevel=err", o, security_label).ok());
  ASSERT_TRUE(ApplyCompatOption("sandbox=chroot", o, security_label).ok());
  ASSERT_TRUE(ApplyCompatOption("modcaps=+sys_admin", o, security_label).ok());
  EXPECT_EQ(o.shared_dir, "/srv");
  EXPECT_EQ(o.cache, CachePolicy::kNever);
  EXPECT_EQ(o.log_level, LogLevel::kError);
  EXPECT_EQ(o.sandbox, SandboxMode::kChroot);
  EXPECT_EQ(o.modcaps, "+sys_admin");
}

TEST(CompatOptionsTest, SwitchesTurnOnAndOff) {
  Options o;
  bool security_label = false;
  ASSERT_TRUE(ApplyCompatOption("xattr", o, security_label).ok());
  EXPECT_TRUE(o.xattr);
  ASSERT_TRUE(ApplyCompatOption("no_xattr", o, security_label).ok());
  EXPECT_FALSE(o.xattr);
  ASSERT_TRUE(ApplyCompatOption("no_readdirplus", o, security_label).ok());
  EXPECT_TRUE(o.no_readdirplus);
  ASSERT_TRUE(ApplyCompatOption("security_label", o, security_label).ok());
  EXPECT_TRUE(security_label);
  ASSERT_TRUE(ApplyCompatOption("no_security_label", o, security_label).ok());
  EXPECT_FALSE(security_label);
  ASSERT_TRUE(ApplyCompatOption("no_flock", o, security_label).ok());  // Accepted, no effect.
}

TEST(CompatOptionsTest, UnknownItemsAndValuesAreNamed) {
  Options o;
  bool security_label = false;
  for (const char* item :
       {"bogus", "cache=never", "sandbox=none", "loglevel=error", "source=", "modcaps=+nope"}) {
    absl::Status status = ApplyCompatOption(item, o, security_label);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << item;
    EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("-o ", item))) << item;
  }
}

}  // namespace
}  // namespace virtiofsd
