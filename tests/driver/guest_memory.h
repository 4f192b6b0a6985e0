// The test guest's RAM: one memfd mapped shared into this process and described to
// a vhost-user backend as one region or, like QEMU 7.2 on a PC machine, as two
// ([0, 640 KiB) and [768 KiB, size)). Owns the memfd, the mapping and the
// allocator that places rings and request buffers in guest-physical space.
//
// A region's "user address" is what QEMU calls its virtual address: here the real
// address of the region in this process's mapping, so ring addresses sent in
// SET_VRING_ADDR are genuine pointers of the "VMM", as with QEMU.
// Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_GUEST_MEMORY_H_
#define VIRTIOFSD_TESTS_DRIVER_GUEST_MEMORY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "tests/driver/guest_allocator.h"

namespace virtiofsd::driver {

// One region as vhost-user describes it (VhostUserMemoryRegion in the spec).
struct GuestRegion {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;  // offset of the region in the memfd
};

enum class RegionLayout {
  kOneRegion,    // [0, size)
  kTwoLikeQemu,  // [0, 640 KiB) and [768 KiB, size), as QEMU's PC machines
};

class GuestMemory {
 public:
  // Creates and maps a memfd of `size` bytes (>= 2 MiB, a multiple of 4 KiB). All of
  // guest memory except page 0 goes to the allocator.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(uint64_t size, RegionLayout layout);
  ~GuestMemory();

  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // The memfd (borrowed: send it to the backend, do not close it).
  int fd() const { return memfd_.get(); }
  uint64_t size() const { return size_; }
  const std::vector<GuestRegion>& regions() const { return regions_; }

  // This process's pointer to [gpa, gpa + len), or nullptr when the range is not
  // entirely inside one region.
  uint8_t* Translate(uint64_t gpa, uint64_t len) const;

  // The user (VMM virtual) address of `gpa`, or kInvalidArgument outside the regions.
  absl::StatusOr<uint64_t> UserAddress(uint64_t gpa) const;

  // Copies into / out of guest memory; kOutOfRange when not inside one region.
  absl::Status Write(uint64_t gpa, absl::string_view bytes);
  absl::StatusOr<std::string> Read(uint64_t gpa, uint64_t len) const;

  GuestAllocator& allocator() { return allocator_; }

 private:
  GuestMemory(UniqueFd memfd, uint8_t* base, uint64_t size, std::vector<GuestRegion> regions);

  UniqueFd memfd_;
  uint8_t* base_;
  uint64_t size_;
  std::vector<GuestRegion> regions_;
  GuestAllocator allocator_;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_GUEST_MEMORY_H_
