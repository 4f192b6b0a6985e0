#include "tests/driver/guest_allocator.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd::driver {
namespace {

using ::virtiofsd::testing::StatusIs;

TEST(GuestAllocatorTest, AlignsAndStaysInsideRanges) {
  GuestAllocator allocator;
  allocator.AddRange(0x1001, 0x3000);
  ASSERT_OK_AND_ASSIGN(uint64_t a, allocator.Allocate(0x100, 0x1000));
  EXPECT_EQ(a, 0x2000u);
  ASSERT_OK_AND_ASSIGN(uint64_t b, allocator.Allocate(0x10, 8));
  EXPECT_EQ(b, 0x1008u);  // the gap before the aligned block is still used
  EXPECT_EQ(allocator.free_bytes(), 0x3000u - 0x110u);
  EXPECT_THAT(allocator.Allocate(0x4000, 8), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(allocator.Allocate(0, 8), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(allocator.Allocate(8, 3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GuestAllocatorTest, FreeCoalescesSoTheWholeRangeComesBack) {
  GuestAllocator allocator;
  allocator.AddRange(0, 0x3000);
  ASSERT_OK_AND_ASSIGN(uint64_t a, allocator.Allocate(0x1000, 8));
  ASSERT_OK_AND_ASSIGN(uint64_t b, allocator.Allocate(0x1000, 8));
  ASSERT_OK_AND_ASSIGN(uint64_t c, allocator.Allocate(0x1000, 8));
  EXPECT_THAT(allocator.Allocate(1, 1), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK(allocator.Free(a));
  ASSERT_OK(allocator.Free(c));
  ASSERT_OK(allocator.Free(b));
  ASSERT_OK_AND_ASSIGN(uint64_t all, allocator.Allocate(0x3000, 8));
  EXPECT_EQ(all, 0u);
}

TEST(GuestAllocatorTest, NeverCrossesBetweenRanges) {
  GuestAllocator allocator;
  allocator.AddRange(0, 0x1000);
  allocator.AddRange(0x1000, 0x1000);  // adjacent, but a different region
  EXPECT_THAT(allocator.Allocate(0x1800, 8), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_OK_AND_ASSIGN(uint64_t a, allocator.Allocate(0x1000, 8));
  ASSERT_OK(allocator.Free(a));
  EXPECT_THAT(allocator.Allocate(0x1800, 8), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(GuestAllocatorTest, FreeOfUnknownAddressFails) {
  GuestAllocator allocator;
  allocator.AddRange(0, 0x1000);
  ASSERT_OK_AND_ASSIGN(uint64_t a, allocator.Allocate(0x10, 8));
  EXPECT_THAT(allocator.Free(a + 8), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(allocator.Free(a));
  EXPECT_THAT(allocator.Free(a), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace virtiofsd::driver
