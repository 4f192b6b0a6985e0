// A split virtqueue (virtio 1.x, section 2.7) living in guest memory, seen from the
// device side: pop the heads the driver made available, walk each descriptor chain
// into host buffers, and return chains through the used ring.
//
// The guest controls every byte of the rings, so each field is read once into a
// local copy before it is checked, every address goes through GuestMemory, and a
// chain may visit at most `size` descriptors (loops end there). A malformed chain is
// an error for that chain only; a corrupt avail index makes the queue unusable.
//
// Thread-safety: the avail side (PopAvail, ReadChain, EnableNotifications) belongs to
// one thread; the used side (PushUsed, NeedsInterrupt) must be serialised by the
// caller. Both sides may run concurrently.

#ifndef VIRTIOFSD_FRONTEND_VIRTQUEUE_H_
#define VIRTIOFSD_FRONTEND_VIRTQUEUE_H_

// The legacy vring_init() in this header is not valid C++; we need none of it.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/virtio_ring.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "frontend/guest_memory.h"

namespace virtiofsd {

// Where the driver put the rings (QEMU virtual addresses, from SET_VRING_ADDR).
struct VirtqueueLayout {
  uint16_t size = 0;  // Power of two, 1..32768.
  uint64_t desc_addr = 0;
  uint64_t avail_addr = 0;
  uint64_t used_addr = 0;
};

// The buffers of one chain, in host memory. Readable buffers come first in a chain
// (the virtio rule); a writable one followed by a readable one is an error.
struct DescriptorChain {
  uint16_t head = 0;
  absl::InlinedVector<iovec, 8> readable;
  absl::InlinedVector<iovec, 8> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 32768;

  // Binds the rings of `layout` in `memory`, starting at avail/used index
  // `next_avail`. kInvalidArgument if the size is not a power of two in range, or a
  // ring is not wholly inside one shared region (for memory QEMU did not share,
  // the message says so).
  static absl::StatusOr<std::unique_ptr<Virtqueue>> Create(
      const VirtqueueLayout& layout, uint16_t next_avail, bool event_idx, bool indirect,
      std::shared_ptr<const GuestMemory> memory);

  // The next head the driver made available, nullopt when there is none. An error
  // means the driver published more heads than the ring holds: the queue is broken.
  absl::StatusOr<std::optional<uint16_t>> PopAvail();

  // Walks the chain starting at `head` (as returned by PopAvail).
  absl::StatusOr<DescriptorChain> ReadChain(uint16_t head) const;

  // Returns `head` to the driver with `written` bytes of device-writable data.
  void PushUsed(uint16_t head, uint32_t written);

  // After PushUsed(): whether the driver asked to be interrupted (EVENT_IDX or
  // VRING_AVAIL_F_NO_INTERRUPT). Resets the tracking for the next batch.
  bool NeedsInterrupt();

  // With EVENT_IDX, asks the driver to kick for any head after those popped so
  // far. Returns true if more heads became available meanwhile (pop again).
  bool EnableNotifications();

  // The avail index the device will read next (GET_VRING_BASE's answer).
  uint16_t next_avail() const { return next_avail_; }
  uint16_t size() const { return layout_.size; }

 private:
  Virtqueue(const VirtqueueLayout& layout, uint16_t next_avail, uint16_t next_used, bool event_idx,
            bool indirect, std::shared_ptr<const GuestMemory> memory, vring_desc* desc,
            vring_avail* avail, vring_used* used)
      : layout_(layout),
        next_avail_(next_avail),
        next_used_(next_used),
        last_signalled_used_(next_used),
        event_idx_(event_idx),
        indirect_(indirect),
        memory_(std::move(memory)),
        desc_(desc),
        avail_(avail),
        used_(used) {}

  // Adds one descriptor's buffer to `chain`.
  absl::Status AddBuffer(const vring_desc& desc, DescriptorChain& chain) const;
  absl::Status WalkIndirect(const vring_desc& table, DescriptorChain& chain,
                            uint32_t& budget) const;

  const VirtqueueLayout layout_;
  uint16_t next_avail_;
  uint16_t next_used_;
  uint16_t last_signalled_used_;
  const bool event_idx_;
  const bool indirect_;
  const std::shared_ptr<const GuestMemory> memory_;
  vring_desc* const desc_;
  vring_avail* const avail_;
  vring_used* const used_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_VIRTQUEUE_H_
