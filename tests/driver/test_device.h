// The device side of a split virtqueue, for tests that need no daemon: pops
// avail chains (following indirect tables) and pushes used entries, straight in
// guest memory, written from the virtio spec independently of SplitRing.
// It trusts the driver: no bounds checks beyond a loop guard. Borrows the memory.

#ifndef VIRTIOFSD_TESTS_DRIVER_TEST_DEVICE_H_
#define VIRTIOFSD_TESTS_DRIVER_TEST_DEVICE_H_

#include <linux/virtio_ring.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/driver/guest_memory.h"
#include "tests/driver/split_ring.h"

namespace virtiofsd::driver {

class TestDevice {
 public:
  // Looks at `ring`'s addresses once; the ring may then be driven by anyone.
  TestDevice(GuestMemory* memory, const SplitRing& ring);

  struct Chain {
    uint16_t head;
    std::vector<vring_desc> descriptors;  // after following an indirect table
  };

  // The next available chain, if the driver published one.
  std::optional<Chain> Pop();
  // Device-readable bytes of `chain`, concatenated.
  std::string ReadableBytes(const Chain& chain) const;
  // Writes `bytes` across the device-writable descriptors; returns bytes written.
  uint32_t WriteBytes(const Chain& chain, const std::string& bytes);
  // Adds a used element and publishes it.
  void Push(uint32_t id, uint32_t len);

  uint16_t& avail_event() { return *reinterpret_cast<uint16_t*>(&used_->ring[size_]); }
  uint16_t used_event() const { return avail_->ring[size_]; }
  uint16_t& used_flags() { return used_->flags; }
  const vring_desc& desc(uint16_t i) const { return desc_[i]; }

 private:
  GuestMemory* memory_;
  uint16_t size_;
  vring_desc* desc_;
  vring_avail* avail_;
  vring_used* used_;
  uint16_t next_avail_ = 0;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_TEST_DEVICE_H_
