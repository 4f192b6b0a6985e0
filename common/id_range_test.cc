#include "common/id_range.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

TEST(IdRangeTest, ParsesPlainDecimalIdsBelowTwoToThe32) {
  ASSERT_OK_AND_ASSIGN(uint32_t zero, ParseIdNumber("0", "id"));
  EXPECT_EQ(zero, 0u);
  ASSERT_OK_AND_ASSIGN(uint32_t max, ParseIdNumber("4294967295", "id"));
  EXPECT_EQ(max, 4294967295u);
}

TEST(IdRangeTest, RefusesAnythingButDigits) {
  for (const char* text : {"", "+1", " 1", "1 ", "-1", "0x10", "1a", "4294967296"}) {
    absl::StatusOr<uint32_t> id = ParseIdNumber(text, "guest id");
    EXPECT_THAT(id, StatusIs(absl::StatusCode::kInvalidArgument)) << "'" << text << "'";
    EXPECT_THAT(std::string(id.status().message()), HasSubstr("not a valid guest id"));
  }
}

TEST(IdRangeTest, RangesAreNonEmptyAndEndAtTwoToThe32AtMost) {
  EXPECT_THAT(CheckIdRange(0, 1, "host"), IsOk());
  EXPECT_THAT(CheckIdRange(4294967295u, 1, "host"), IsOk());  // ends exactly at 2^32
  EXPECT_THAT(CheckIdRange(0, 0, "host"), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::Status past = CheckIdRange(4294967295u, 2, "host");
  EXPECT_THAT(past, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(past.message()), HasSubstr("host range ends past"));
}

}  // namespace
}  // namespace virtiofsd
