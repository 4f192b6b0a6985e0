// Hands out guest-physical address ranges for the test driver's rings, request
// buffers and indirect tables. Pure bookkeeping (first fit, neighbours coalesce on
// Free): it never touches memory, so it is tested without any mapping.
//
// Not thread-safe; owned by GuestMemory.

#ifndef VIRTIOFSD_TESTS_DRIVER_GUEST_ALLOCATOR_H_
#define VIRTIOFSD_TESTS_DRIVER_GUEST_ALLOCATOR_H_

#include <cstdint>
#include <map>

#include "absl/status/statusor.h"

namespace virtiofsd::driver {

class GuestAllocator {
 public:
  // Adds [base, base + size) to the free pool. Ranges must not overlap; ranges
  // added separately never merge, so no allocation crosses a region boundary.
  void AddRange(uint64_t base, uint64_t size);

  // Returns the start of `size` (> 0) free bytes aligned to `align` (a power of
  // two). kResourceExhausted when no free range fits.
  absl::StatusOr<uint64_t> Allocate(uint64_t size, uint64_t align);

  // Returns a range Allocate() gave out. kInvalidArgument for any other address.
  absl::Status Free(uint64_t addr);

  // Bytes currently free.
  uint64_t free_bytes() const { return free_bytes_; }

 private:
  struct Range {
    uint64_t size;
    int pool;  // which AddRange() call the bytes came from
  };
  std::map<uint64_t, Range> free_;       // start -> range
  std::map<uint64_t, Range> allocated_;  // start -> range
  int pools_ = 0;
  uint64_t free_bytes_ = 0;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_GUEST_ALLOCATOR_H_
