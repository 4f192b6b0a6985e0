#include "broker/capabilities.h"

#include <linux/capability.h>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;

constexpr uint64_t Bit(int cap) { return uint64_t{1} << cap; }

TEST(BrokerCapabilitiesTest, DefaultSetIsWhatFileOperationsNeed) {
  ASSERT_OK_AND_ASSIGN(uint64_t mask, BrokerCapabilities({}));
  EXPECT_EQ(mask, Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) | Bit(CAP_FOWNER) | Bit(CAP_FSETID) |
                      Bit(CAP_SETGID) | Bit(CAP_SETUID) | Bit(CAP_MKNOD) | Bit(CAP_SETFCAP));
  EXPECT_EQ(mask & Bit(CAP_SYS_ADMIN), 0u);
  EXPECT_EQ(mask & Bit(CAP_DAC_READ_SEARCH), 0u);
}

TEST(BrokerCapabilitiesTest, FileHandlesAddDacReadSearch) {
  ASSERT_OK_AND_ASSIGN(uint64_t plain, BrokerCapabilities({}));
  ASSERT_OK_AND_ASSIGN(uint64_t handles, BrokerCapabilities({}, true));
  EXPECT_EQ(handles, plain | Bit(CAP_DAC_READ_SEARCH));
}

TEST(BrokerCapabilitiesTest, Modcaps) {
  ASSERT_OK_AND_ASSIGN(uint64_t mask, BrokerCapabilities({"+sys_admin", "-mknod", "-cap_setfcap"}));
  EXPECT_NE(mask & Bit(CAP_SYS_ADMIN), 0u);
  EXPECT_EQ(mask & Bit(CAP_MKNOD), 0u);
  EXPECT_EQ(mask & Bit(CAP_SETFCAP), 0u);
  EXPECT_THAT(BrokerCapabilities({"+frobnicate"}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace virtiofsd
