// Fuzzes descriptor-chain walking over guest memory the fuzzer writes: the input
// fills a 64 KiB guest RAM holding the descriptor table (0x0), avail ring (0x1000),
// used ring (0x2000) and anything else; byte 0 picks the queue size and features.
// Every buffer handed out must lie inside guest memory, and every walk must end.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "frontend/virtqueue.h"

namespace virtiofsd {
namespace {

constexpr uint64_t kMemory = 64 * 1024;
constexpr uint64_t kUserBase = 0x7f0000000000;

void Fuzz(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const uint16_t queue_size = static_cast<uint16_t>(1u << (data[0] % 9));  // 1..256
  const bool event_idx = data[0] & 0x10;
  const bool indirect = data[0] & 0x20;

  UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
  if (!fd.valid() || ftruncate(fd.get(), kMemory) != 0) abort();
  auto region = MappedRegion::Map({0, kMemory, kUserBase, 0}, std::move(fd));
  if (!region.ok()) abort();
  auto memory = GuestMemory().With(*region);
  if (!memory.ok()) abort();
  uint8_t* base = (*memory)->TranslateGuest(0, kMemory);
  memcpy(base, data + 1, std::min<size_t>(size - 1, kMemory));

  auto queue = Virtqueue::Create({queue_size, kUserBase, kUserBase + 0x1000, kUserBase + 0x2000}, 0,
                                 event_idx, indirect, *memory);
  if (!queue.ok()) abort();  // The layout itself is always valid here.
  for (int i = 0; i < 2 * queue_size; ++i) {
    auto head = (*queue)->PopAvail();
    if (!head.ok() || !head->has_value()) break;
    auto chain = (*queue)->ReadChain(**head);
    if (chain.ok()) {
      for (const auto* list : {&chain->readable, &chain->writable}) {
        for (const iovec& buffer : *list) {
          auto* p = static_cast<uint8_t*>(buffer.iov_base);
          if (p < base || buffer.iov_len > kMemory || p + buffer.iov_len > base + kMemory) abort();
        }
      }
    }
    (*queue)->PushUsed(**head, 0);
    (*queue)->NeedsInterrupt();
  }
  (*queue)->EnableNotifications();
}

}  // namespace
}  // namespace virtiofsd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  virtiofsd::Fuzz(data, size);
  return 0;
}
