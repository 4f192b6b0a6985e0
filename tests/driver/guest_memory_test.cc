#include "tests/driver/guest_memory.h"

#include <sys/mman.h>

#include <cstring>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd::driver {
namespace {

using ::virtiofsd::testing::StatusIs;

TEST(GuestMemoryTest, TwoRegionsLikeQemuLeaveTheVgaHole) {
  ASSERT_OK_AND_ASSIGN(auto memory, GuestMemory::Create(4 << 20, RegionLayout::kTwoLikeQemu));
  ASSERT_EQ(memory->regions().size(), 2u);
  const GuestRegion& low = memory->regions()[0];
  const GuestRegion& high = memory->regions()[1];
  EXPECT_EQ(low.guest_phys_addr, 0u);
  EXPECT_EQ(low.memory_size, 640u << 10);
  EXPECT_EQ(high.guest_phys_addr, 768u << 10);
  EXPECT_EQ(high.mmap_offset, 768u << 10);
  EXPECT_EQ(high.guest_phys_addr + high.memory_size, 4u << 20);
  EXPECT_EQ(high.userspace_addr - low.userspace_addr, high.mmap_offset);
  EXPECT_EQ(memory->Translate(700 << 10, 1), nullptr);
  EXPECT_EQ(memory->Translate((640 << 10) - 8, 16), nullptr) << "crosses the region end";
  EXPECT_THAT(memory->UserAddress(700 << 10), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(uint64_t user, memory->UserAddress((1 << 20) + 5));
  EXPECT_EQ(reinterpret_cast<uint8_t*>(user), memory->Translate((1 << 20) + 5, 1));
}

TEST(GuestMemoryTest, WritesReachTheMemfd) {
  ASSERT_OK_AND_ASSIGN(auto memory, GuestMemory::Create(4 << 20, RegionLayout::kTwoLikeQemu));
  ASSERT_OK(memory->Write(0x100000, "hello"));
  // A second mapping of the fd, as the back-end makes.
  void* other = mmap(nullptr, 4 << 20, PROT_READ, MAP_SHARED, memory->fd(), 0);
  ASSERT_NE(other, MAP_FAILED);
  EXPECT_EQ(memcmp(static_cast<char*>(other) + 0x100000, "hello", 5), 0);
  munmap(other, 4 << 20);
  ASSERT_OK_AND_ASSIGN(std::string back, memory->Read(0x100000, 5));
  EXPECT_EQ(back, "hello");
  EXPECT_THAT(memory->Write((4 << 20) - 2, "abc"), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(GuestMemoryTest, AllocatorNeverHandsOutPageZeroOrTheHole) {
  ASSERT_OK_AND_ASSIGN(auto memory, GuestMemory::Create(2 << 20, RegionLayout::kTwoLikeQemu));
  while (true) {
    absl::StatusOr<uint64_t> gpa = memory->allocator().Allocate(4096, 4096);
    if (!gpa.ok()) break;
    EXPECT_NE(*gpa, 0u);
    EXPECT_NE(memory->Translate(*gpa, 4096), nullptr) << *gpa;
  }
  EXPECT_THAT(GuestMemory::Create(1 << 20, RegionLayout::kOneRegion),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace virtiofsd::driver
