#include "tests/driver/test_device.h"

#include <algorithm>
#include <cstring>

namespace virtiofsd::driver {

TestDevice::TestDevice(GuestMemory* memory, const SplitRing& ring)
    : memory_(memory),
      size_(ring.size()),
      desc_(reinterpret_cast<vring_desc*>(
          memory->Translate(ring.desc_addr(), sizeof(vring_desc) * size_))),
      avail_(reinterpret_cast<vring_avail*>(memory->Translate(ring.avail_addr(), 6 + 2 * size_))),
      used_(reinterpret_cast<vring_used*>(
          memory->Translate(ring.used_addr(), 6 + sizeof(vring_used_elem) * size_))) {}

std::optional<TestDevice::Chain> TestDevice::Pop() {
  if (__atomic_load_n(&avail_->idx, __ATOMIC_ACQUIRE) == next_avail_) return std::nullopt;
  Chain chain;
  chain.head = avail_->ring[next_avail_++ % size_];
  const vring_desc* table = desc_;
  uint16_t index = chain.head;
  if (desc_[index].flags & VRING_DESC_F_INDIRECT) {
    table = reinterpret_cast<const vring_desc*>(
        memory_->Translate(desc_[index].addr, desc_[index].len));
    index = 0;
  }
  for (int guard = 0; guard < size_; ++guard) {
    chain.descriptors.push_back(table[index]);
    if (!(table[index].flags & VRING_DESC_F_NEXT)) break;
    index = table[index].next;
  }
  return chain;
}

std::string TestDevice::ReadableBytes(const Chain& chain) const {
  std::string bytes;
  for (const vring_desc& d : chain.descriptors) {
    if (d.flags & VRING_DESC_F_WRITE) continue;
    bytes.append(reinterpret_cast<const char*>(memory_->Translate(d.addr, d.len)), d.len);
  }
  return bytes;
}

uint32_t TestDevice::WriteBytes(const Chain& chain, const std::string& bytes) {
  size_t done = 0;
  for (const vring_desc& d : chain.descriptors) {
    if (!(d.flags & VRING_DESC_F_WRITE) || done == bytes.size()) continue;
    const size_t n = std::min<size_t>(d.len, bytes.size() - done);
    memcpy(memory_->Translate(d.addr, n), bytes.data() + done, n);
    done += n;
  }
  return done;
}

void TestDevice::Push(uint32_t id, uint32_t len) {
  const uint16_t idx = used_->idx;
  used_->ring[idx % size_] = {id, len};
  __atomic_store_n(&used_->idx, static_cast<uint16_t>(idx + 1), __ATOMIC_RELEASE);
}

}  // namespace virtiofsd::driver
