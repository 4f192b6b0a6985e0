#include "tests/driver/guest_memory.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "common/status.h"

namespace virtiofsd::driver {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLowRamEnd = 640 << 10;     // PC low memory ends at 640 KiB...
constexpr uint64_t kHighRamStart = 768 << 10;  // ...the VGA hole, then RAM again (QEMU 7.2)

}  // namespace

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(uint64_t size,
                                                                 RegionLayout layout) {
  if (size < (2 << 20) || size % kPage != 0) {
    return absl::InvalidArgumentError(absl::StrFormat("bad guest memory size %d", size));
  }
  UniqueFd memfd(memfd_create("guest-ram", MFD_CLOEXEC));
  if (!memfd) return ErrnoError(errno, "memfd_create");
  if (ftruncate(memfd.get(), size) != 0) return ErrnoError(errno, "ftruncate guest memory");
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (base == MAP_FAILED) return ErrnoError(errno, "mmap guest memory");
  const uint64_t user = reinterpret_cast<uintptr_t>(base);
  std::vector<GuestRegion> regions;
  if (layout == RegionLayout::kOneRegion) {
    regions.push_back({0, size, user, 0});
  } else {
    regions.push_back({0, kLowRamEnd, user, 0});
    regions.push_back({kHighRamStart, size - kHighRamStart, user + kHighRamStart, kHighRamStart});
  }
  return std::unique_ptr<GuestMemory>(
      new GuestMemory(std::move(memfd), static_cast<uint8_t*>(base), size, std::move(regions)));
}

GuestMemory::GuestMemory(UniqueFd memfd, uint8_t* base, uint64_t size,
                         std::vector<GuestRegion> regions)
    : memfd_(std::move(memfd)), base_(base), size_(size), regions_(std::move(regions)) {
  for (const GuestRegion& region : regions_) {
    // Page 0 stays unused so that guest address 0 is never a valid buffer.
    const uint64_t skip = region.guest_phys_addr == 0 ? kPage : 0;
    allocator_.AddRange(region.guest_phys_addr + skip, region.memory_size - skip);
  }
}

GuestMemory::~GuestMemory() { munmap(base_, size_); }

uint8_t* GuestMemory::Translate(uint64_t gpa, uint64_t len) const {
  for (const GuestRegion& region : regions_) {
    if (gpa >= region.guest_phys_addr && gpa - region.guest_phys_addr <= region.memory_size &&
        len <= region.memory_size - (gpa - region.guest_phys_addr)) {
      return base_ + region.mmap_offset + (gpa - region.guest_phys_addr);
    }
  }
  return nullptr;
}

absl::StatusOr<uint64_t> GuestMemory::UserAddress(uint64_t gpa) const {
  for (const GuestRegion& region : regions_) {
    if (gpa >= region.guest_phys_addr && gpa - region.guest_phys_addr < region.memory_size) {
      return region.userspace_addr + (gpa - region.guest_phys_addr);
    }
  }
  return absl::InvalidArgumentError(absl::StrFormat("0x%x is not guest memory", gpa));
}

absl::Status GuestMemory::Write(uint64_t gpa, absl::string_view bytes) {
  uint8_t* dst = Translate(gpa, bytes.size());
  if (dst == nullptr) {
    return absl::OutOfRangeError(
        absl::StrFormat("write [0x%x, +%d) outside guest memory", gpa, bytes.size()));
  }
  if (!bytes.empty()) memcpy(dst, bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> GuestMemory::Read(uint64_t gpa, uint64_t len) const {
  const uint8_t* src = Translate(gpa, len);
  if (src == nullptr) {
    return absl::OutOfRangeError(
        absl::StrFormat("read [0x%x, +%d) outside guest memory", gpa, len));
  }
  return std::string(reinterpret_cast<const char*>(src), len);
}

}  // namespace virtiofsd::driver
