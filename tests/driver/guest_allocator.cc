#include "tests/driver/guest_allocator.h"

#include "absl/strings/str_format.h"

namespace virtiofsd::driver {

void GuestAllocator::AddRange(uint64_t base, uint64_t size) {
  if (size == 0) return;
  free_[base] = Range{size, pools_++};
  free_bytes_ += size;
}

absl::StatusOr<uint64_t> GuestAllocator::Allocate(uint64_t size, uint64_t align) {
  if (size == 0 || align == 0 || (align & (align - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat("bad allocation %d/%d", size, align));
  }
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const uint64_t start = it->first;
    const Range range = it->second;
    const uint64_t aligned = (start + align - 1) & ~(align - 1);
    if (aligned < start || aligned - start > range.size || range.size - (aligned - start) < size) {
      continue;
    }
    free_.erase(it);
    if (aligned > start) free_[start] = Range{aligned - start, range.pool};
    const uint64_t tail = range.size - (aligned - start) - size;
    if (tail > 0) free_[aligned + size] = Range{tail, range.pool};
    allocated_[aligned] = Range{size, range.pool};
    free_bytes_ -= size;
    return aligned;
  }
  return absl::ResourceExhaustedError(
      absl::StrFormat("no %d free bytes of guest memory (%d free)", size, free_bytes_));
}

absl::Status GuestAllocator::Free(uint64_t addr) {
  auto it = allocated_.find(addr);
  if (it == allocated_.end()) {
    return absl::InvalidArgumentError(absl::StrFormat("0x%x was not allocated", addr));
  }
  Range range = it->second;
  allocated_.erase(it);
  free_bytes_ += range.size;
  uint64_t start = addr;
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + range.size && next->second.pool == range.pool) {
    range.size += next->second.size;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size == start && prev->second.pool == range.pool) {
      start = prev->first;
      range.size += prev->second.size;
      free_.erase(prev);
    }
  }
  free_[start] = range;
  return absl::OkStatus();
}

}  // namespace virtiofsd::driver
