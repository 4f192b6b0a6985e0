// The driver (guest) side of one split virtqueue (virtio 1.x, 2.7), laid out in
// GuestMemory as vring_init() in <linux/virtio_ring.h> does: descriptor table,
// then the avail ring, then the used ring at the next 4 KiB boundary.
// SplitRing writes descriptors and avail entries, publishes them with a release
// store of avail->idx, and pops used entries; it decides whether the device wants a
// kick (EVENT_IDX or VRING_USED_F_NO_NOTIFY) and asks for interrupts the way Linux
// does. It makes no syscalls: kicking and waiting belong to the caller.
//
// Owns its ring memory (freed to the GuestMemory allocator on destruction; the
// GuestMemory must outlive the ring) and tracks descriptors privately, so a device
// that returns a bogus used id gets an error, not a corrupted free list.
// Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_SPLIT_RING_H_
#define VIRTIOFSD_TESTS_DRIVER_SPLIT_RING_H_

#include <linux/virtio_ring.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tests/driver/guest_memory.h"

namespace virtiofsd::driver {

// One buffer of a chain, in guest-physical addresses.
struct Segment {
  uint64_t addr;
  uint32_t len;
  bool device_writable;
};

// One descriptor written verbatim (for malformed-chain tests). See AddRaw().
struct RawDescriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;  // VRING_DESC_F_*
  uint16_t next;
};

class SplitRing {
 public:
  // Allocates and zeroes a ring of `size` entries (a power of two, <= 32768) in
  // `memory`. `event_idx`: VIRTIO_RING_F_EVENT_IDX was negotiated.
  static absl::StatusOr<std::unique_ptr<SplitRing>> Create(GuestMemory* memory, uint16_t size,
                                                           bool event_idx);
  ~SplitRing();

  SplitRing(const SplitRing&) = delete;
  SplitRing& operator=(const SplitRing&) = delete;

  uint16_t size() const { return size_; }
  // Guest-physical addresses of the three parts.
  uint64_t desc_addr() const { return desc_gpa_; }
  uint64_t avail_addr() const { return avail_gpa_; }
  uint64_t used_addr() const { return used_gpa_; }
  // Descriptors not in flight.
  uint16_t num_free() const { return static_cast<uint16_t>(free_.size()); }

  // Writes `segments` as a chain of direct descriptors and queues its head in the
  // avail ring (visible to the device after Publish()). Returns the head index.
  // kResourceExhausted when fewer than segments.size() descriptors are free.
  absl::StatusOr<uint16_t> AddChain(absl::Span<const Segment> segments);

  // Writes `segments` as an indirect table at `table_gpa` (caller-owned guest
  // memory of 16 * segments.size() bytes, alive until the chain is used) and
  // queues one VRING_DESC_F_INDIRECT descriptor pointing at it.
  absl::StatusOr<uint16_t> AddIndirect(uint64_t table_gpa, absl::Span<const Segment> segments);

  // Writes `descriptors` into free slots verbatim, except that a `next` smaller
  // than descriptors.size() is an index into `descriptors` and becomes that
  // entry's slot (so next = 0 on the last entry makes a loop); larger values are
  // written as they are. Queues descriptors[0] as the head.
  absl::StatusOr<uint16_t> AddRaw(absl::Span<const RawDescriptor> descriptors);

  // Makes everything added so far visible (release store of avail->idx) and
  // returns whether the device asked to be kicked for it.
  bool Publish();

  // The next used element, or nullopt when the device has used nothing new. The
  // chain's descriptors become free. kDataLoss when the device broke the ring
  // (an id that is not an in-flight head, or idx ran ahead by more than size()).
  absl::StatusOr<std::optional<vring_used_elem>> PopUsed();

  // Asks for an interrupt when the device uses the next entry (used_event with
  // EVENT_IDX), then returns true when used entries are already waiting, in which
  // case the caller must pop them instead of sleeping.
  bool EnableInterrupts();

  // Chains added and not yet used.
  int in_flight() const { return in_flight_; }

 private:
  SplitRing(GuestMemory* memory, uint64_t base, uint16_t size, bool event_idx);
  absl::StatusOr<std::vector<uint16_t>> TakeSlots(size_t n);
  void QueueHead(uint16_t head, std::vector<uint16_t> slots);
  // EVENT_IDX fields past the ends of the two rings.
  uint16_t* used_event() { return &avail_->ring[size_]; }
  uint16_t* avail_event() { return reinterpret_cast<uint16_t*>(&used_->ring[size_]); }

  GuestMemory* memory_;
  uint64_t base_gpa_;
  uint16_t size_;
  bool event_idx_;
  uint64_t desc_gpa_, avail_gpa_, used_gpa_;
  // The ring in this process's mapping of guest memory.
  vring_desc* desc_;
  vring_avail* avail_;
  vring_used* used_;
  std::vector<uint16_t> free_;
  std::vector<std::vector<uint16_t>> chains_;  // head -> slots of its chain
  uint16_t avail_idx_ = 0;                     // next avail entry (shadow)
  uint16_t published_idx_ = 0;                 // avail->idx as the device sees it
  uint16_t last_used_ = 0;
  int in_flight_ = 0;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_SPLIT_RING_H_
