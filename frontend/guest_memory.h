// The guest's RAM as the frontend sees it: the regions QEMU shared over vhost-user,
// mapped into this process, and the bounds-checked translation of guest-physical and
// QEMU-virtual addresses into host pointers.
//
// A GuestMemory is immutable once built; a memory-table change builds a new one and
// swaps it in (see VhostUserDevice), so a queue thread that holds a shared_ptr keeps
// its mappings alive while it works. Every address the guest hands us goes through
// Translate*(), which refuses any range that is not wholly inside one region.

#ifndef VIRTIOFSD_FRONTEND_GUEST_MEMORY_H_
#define VIRTIOFSD_FRONTEND_GUEST_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// One region as vhost-user describes it (VhostUserMemoryRegion).
struct MemoryRegionSpec {
  uint64_t guest_phys_addr = 0;
  uint64_t size = 0;
  uint64_t user_addr = 0;    // Where QEMU mapped it; ring addresses use this space.
  uint64_t mmap_offset = 0;  // Offset of the region within `fd`.
};

// A region mapped into this process; unmapped when the last reference goes.
class MappedRegion {
 public:
  // Maps `size` bytes of `fd` at `mmap_offset`, shared and read-write. Fails with
  // kInvalidArgument for an empty or overflowing range, and with the errno of
  // fstat/mmap otherwise; memory that is not shareable (a private anonymous
  // mapping's fd, or a file too short for the range) is refused with a clear message.
  static absl::StatusOr<std::shared_ptr<MappedRegion>> Map(const MemoryRegionSpec& spec,
                                                           UniqueFd fd);
  ~MappedRegion();
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  const MemoryRegionSpec& spec() const { return spec_; }
  uint8_t* host_base() const { return base_ + page_delta_; }

 private:
  MappedRegion(const MemoryRegionSpec& spec, uint8_t* base, size_t length, size_t page_delta)
      : spec_(spec), base_(base), length_(length), page_delta_(page_delta) {}

  MemoryRegionSpec spec_;
  uint8_t* base_;
  size_t length_;
  size_t page_delta_;
};

class GuestMemory {
 public:
  // The most regions we accept (QEMU's default GET_MAX_MEM_SLOTS answer is 32 too).
  static constexpr size_t kMaxRegions = 32;

  GuestMemory() = default;

  // A table with `region` added. kInvalidArgument if it overlaps an existing
  // region in guest-physical or QEMU-virtual space, or the table is full.
  absl::StatusOr<std::shared_ptr<const GuestMemory>> With(
      std::shared_ptr<MappedRegion> region) const;
  // A table without the region matching `spec` (guest address and size).
  // kNotFound if there is none.
  absl::StatusOr<std::shared_ptr<const GuestMemory>> Without(const MemoryRegionSpec& spec) const;

  // Host pointer for guest-physical [gpa, gpa + length), or nullptr if that range is
  // not wholly inside one region (or overflows). `length` may be 0.
  uint8_t* TranslateGuest(uint64_t gpa, uint64_t length) const;
  // The same for an address in QEMU's virtual address space (vring addresses).
  uint8_t* TranslateUser(uint64_t user_addr, uint64_t length) const;

  size_t region_count() const { return regions_.size(); }

 private:
  std::vector<std::shared_ptr<MappedRegion>> regions_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_GUEST_MEMORY_H_
