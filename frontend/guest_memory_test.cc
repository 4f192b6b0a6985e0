#include "frontend/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

UniqueFd Memfd(size_t size) {
  UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
  EXPECT_EQ(ftruncate(fd.get(), size), 0);
  return fd;
}

std::shared_ptr<MappedRegion> MapOrDie(MemoryRegionSpec spec, size_t file_size) {
  auto region = MappedRegion::Map(spec, Memfd(file_size));
  EXPECT_OK(region.status());
  return region.ok() ? *region : nullptr;
}

TEST(GuestMemoryTest, TranslatesOnlyRangesInsideARegion) {
  GuestMemory empty;
  ASSERT_OK_AND_ASSIGN(auto memory,
                       empty.With(MapOrDie({0x10000, 0x4000, 0x7f0000000000, 0}, 0x4000)));
  uint8_t* base = memory->TranslateGuest(0x10000, 0x4000);
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(memory->TranslateGuest(0x10010, 16), base + 0x10);
  EXPECT_EQ(memory->TranslateGuest(0x13ff0, 16), base + 0x3ff0);
  EXPECT_EQ(memory->TranslateGuest(0x13ff0, 17), nullptr);  // Runs past the end.
  EXPECT_EQ(memory->TranslateGuest(0xfff0, 32), nullptr);   // Starts before.
  EXPECT_EQ(memory->TranslateGuest(0x10000, UINT64_MAX), nullptr);
  EXPECT_EQ(memory->TranslateGuest(UINT64_MAX, 2), nullptr);
  EXPECT_EQ(memory->TranslateUser(0x7f0000000100, 8), base + 0x100);
  EXPECT_EQ(memory->TranslateUser(0x10000, 8), nullptr);
  // The mapping is shared: a write through it is visible in the file.
  base[5] = 42;
  EXPECT_EQ(memory->TranslateGuest(0x10005, 1)[0], 42);
}

TEST(GuestMemoryTest, HonoursTheMmapOffset) {
  UniqueFd fd = Memfd(0x3000);
  const char marker = 'M';
  ASSERT_EQ(pwrite(fd.get(), &marker, 1, 0x2000), 1);
  ASSERT_OK_AND_ASSIGN(auto region, MappedRegion::Map({0, 0x1000, 0x1000, 0x2000}, std::move(fd)));
  ASSERT_OK_AND_ASSIGN(auto memory, GuestMemory().With(region));
  EXPECT_EQ(*memory->TranslateGuest(0, 1), 'M');
}

TEST(GuestMemoryTest, RefusesOverlappingRegions) {
  ASSERT_OK_AND_ASSIGN(auto memory, GuestMemory().With(MapOrDie({0, 0x2000, 0x100000, 0}, 0x2000)));
  EXPECT_THAT(memory->With(MapOrDie({0x1000, 0x2000, 0x200000, 0}, 0x2000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(memory->With(MapOrDie({0x8000, 0x1000, 0x101000, 0}, 0x1000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(memory->With(MapOrDie({0x2000, 0x1000, 0x102000, 0}, 0x1000)).status());
}

TEST(GuestMemoryTest, RefusesBadRegions) {
  EXPECT_THAT(MappedRegion::Map({0, 0, 0, 0}, Memfd(0x1000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MappedRegion::Map({UINT64_MAX - 10, 0x1000, 0, 0}, Memfd(0x1000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A file shorter than the announced region (e.g. memory QEMU did not share).
  EXPECT_THAT(MappedRegion::Map({0, 0x4000, 0, 0}, Memfd(0x1000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  close(pipe_fds[1]);
  EXPECT_THAT(MappedRegion::Map({0, 0x1000, 0, 0}, UniqueFd(pipe_fds[0])),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GuestMemoryTest, WithoutRemovesTheMatchingRegion) {
  ASSERT_OK_AND_ASSIGN(auto one, GuestMemory().With(MapOrDie({0, 0x1000, 0x100000, 0}, 0x1000)));
  ASSERT_OK_AND_ASSIGN(auto two, one->With(MapOrDie({0x1000, 0x1000, 0x200000, 0}, 0x1000)));
  EXPECT_THAT(two->Without({0x5000, 0x1000, 0, 0}), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto left, two->Without({0, 0x1000, 0, 0}));
  EXPECT_EQ(left->region_count(), 1u);
  EXPECT_EQ(left->TranslateGuest(0, 1), nullptr);
  EXPECT_NE(left->TranslateGuest(0x1000, 1), nullptr);
  // The old table still maps what it had: in-flight users keep working.
  EXPECT_NE(two->TranslateGuest(0, 1), nullptr);
}

}  // namespace
}  // namespace virtiofsd
