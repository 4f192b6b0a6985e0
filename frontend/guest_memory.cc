#include "frontend/guest_memory.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

// [start, start + length) of `base`/`size` holds [addr, addr + length)?
uint8_t* Lookup(uint64_t base, uint64_t size, uint8_t* host, uint64_t addr, uint64_t length) {
  if (addr < base) return nullptr;
  const uint64_t offset = addr - base;
  if (offset > size || length > size - offset) return nullptr;
  return host + offset;
}

bool Overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

}  // namespace

absl::StatusOr<std::shared_ptr<MappedRegion>> MappedRegion::Map(const MemoryRegionSpec& spec,
                                                                UniqueFd fd) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (spec.size == 0 || spec.guest_phys_addr + spec.size < spec.guest_phys_addr ||
      spec.user_addr + spec.size < spec.user_addr ||
      spec.mmap_offset + spec.size < spec.mmap_offset || spec.size > (uint64_t{1} << 48)) {
    return absl::InvalidArgumentError(absl::StrCat("memory region of size ", spec.size, " at 0x",
                                                   absl::Hex(spec.guest_phys_addr),
                                                   " is empty or overflows"));
  }
  if (!fd.valid()) return absl::InvalidArgumentError("memory region without an fd");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, "fstat of a memory region");
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) < spec.mmap_offset + spec.size) {
    return absl::InvalidArgumentError(
        "guest memory is not a shareable file of the announced size; start QEMU with a "
        "shared memory backend (e.g. -object memory-backend-memfd,share=on)");
  }
  const uint64_t aligned_offset = spec.mmap_offset & ~(page - 1);
  const size_t page_delta = spec.mmap_offset - aligned_offset;
  const size_t length = spec.size + page_delta;
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd.get(),
                    static_cast<off_t>(aligned_offset));
  if (base == MAP_FAILED) return ErrnoError(errno, "mmap of a guest memory region");
  // The mapping keeps the memory; the fd is no longer needed.
  return std::shared_ptr<MappedRegion>(
      new MappedRegion(spec, static_cast<uint8_t*>(base), length, page_delta));
}

MappedRegion::~MappedRegion() { munmap(base_, length_); }

absl::StatusOr<std::shared_ptr<const GuestMemory>> GuestMemory::With(
    std::shared_ptr<MappedRegion> region) const {
  if (regions_.size() >= kMaxRegions) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxRegions, " memory regions"));
  }
  const MemoryRegionSpec& spec = region->spec();
  for (const auto& existing : regions_) {
    const MemoryRegionSpec& other = existing->spec();
    if (Overlaps(spec.guest_phys_addr, spec.size, other.guest_phys_addr, other.size) ||
        Overlaps(spec.user_addr, spec.size, other.user_addr, other.size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("memory region at 0x", absl::Hex(spec.guest_phys_addr),
                       " overlaps the one at 0x", absl::Hex(other.guest_phys_addr)));
    }
  }
  auto table = std::make_shared<GuestMemory>(*this);
  table->regions_.push_back(std::move(region));
  return std::shared_ptr<const GuestMemory>(std::move(table));
}

absl::StatusOr<std::shared_ptr<const GuestMemory>> GuestMemory::Without(
    const MemoryRegionSpec& spec) const {
  auto table = std::make_shared<GuestMemory>(*this);
  for (auto it = table->regions_.begin(); it != table->regions_.end(); ++it) {
    if ((*it)->spec().guest_phys_addr == spec.guest_phys_addr && (*it)->spec().size == spec.size) {
      table->regions_.erase(it);
      return std::shared_ptr<const GuestMemory>(std::move(table));
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no memory region at 0x", absl::Hex(spec.guest_phys_addr)));
}

uint8_t* GuestMemory::TranslateGuest(uint64_t gpa, uint64_t length) const {
  for (const auto& region : regions_) {
    const MemoryRegionSpec& spec = region->spec();
    if (uint8_t* host = Lookup(spec.guest_phys_addr, spec.size, region->host_base(), gpa, length)) {
      return host;
    }
  }
  return nullptr;
}

uint8_t* GuestMemory::TranslateUser(uint64_t user_addr, uint64_t length) const {
  for (const auto& region : regions_) {
    const MemoryRegionSpec& spec = region->spec();
    if (uint8_t* host = Lookup(spec.user_addr, spec.size, region->host_base(), user_addr, length)) {
      return host;
    }
  }
  return nullptr;
}

}  // namespace virtiofsd
