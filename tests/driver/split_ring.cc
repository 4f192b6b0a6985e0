#include "tests/driver/split_ring.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace virtiofsd::driver {
namespace {

// The legacy layout of vring_init() (which <linux/virtio_ring.h> hides from C++
// behind VIRTIO_RING_NO_LEGACY): desc[size], avail, then used 4 KiB aligned.
constexpr uint64_t kUsedAlign = 4096;

uint64_t AvailOffset(uint16_t size) { return sizeof(vring_desc) * size; }
uint64_t UsedOffset(uint16_t size) {
  const uint64_t avail_end = AvailOffset(size) + sizeof(uint16_t) * (3 + size);
  return (avail_end + kUsedAlign - 1) & ~(kUsedAlign - 1);
}
uint64_t RingBytes(uint16_t size) {
  return UsedOffset(size) + sizeof(uint16_t) * 3 + sizeof(vring_used_elem) * size;
}

uint16_t LoadAcquire(const uint16_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(uint16_t* p, uint16_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

}  // namespace

absl::StatusOr<std::unique_ptr<SplitRing>> SplitRing::Create(GuestMemory* memory, uint16_t size,
                                                             bool event_idx) {
  if (size == 0 || (size & (size - 1)) != 0 || size > 32768) {
    return absl::InvalidArgumentError(absl::StrFormat("bad queue size %d", size));
  }
  const uint64_t bytes = RingBytes(size);
  absl::StatusOr<uint64_t> base = memory->allocator().Allocate(bytes, 4096);
  if (!base.ok()) return base.status();
  memset(memory->Translate(*base, bytes), 0, bytes);
  return std::unique_ptr<SplitRing>(new SplitRing(memory, *base, size, event_idx));
}

SplitRing::SplitRing(GuestMemory* memory, uint64_t base, uint16_t size, bool event_idx)
    : memory_(memory), base_gpa_(base), size_(size), event_idx_(event_idx), chains_(size) {
  uint8_t* host = memory->Translate(base, RingBytes(size));
  desc_gpa_ = base;
  avail_gpa_ = base + AvailOffset(size);
  used_gpa_ = base + UsedOffset(size);
  desc_ = reinterpret_cast<vring_desc*>(host);
  avail_ = reinterpret_cast<vring_avail*>(host + AvailOffset(size));
  used_ = reinterpret_cast<vring_used*>(host + UsedOffset(size));
  // Hand out low slots first, as a fresh Linux ring does.
  for (int i = size - 1; i >= 0; --i) free_.push_back(static_cast<uint16_t>(i));
}

SplitRing::~SplitRing() { memory_->allocator().Free(base_gpa_).IgnoreError(); }

absl::StatusOr<std::vector<uint16_t>> SplitRing::TakeSlots(size_t n) {
  if (n == 0) return absl::InvalidArgumentError("empty descriptor chain");
  if (n > free_.size()) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%d descriptors wanted, %d free", n, free_.size()));
  }
  std::vector<uint16_t> slots(free_.end() - n, free_.end());
  std::reverse(slots.begin(), slots.end());
  free_.resize(free_.size() - n);
  return slots;
}

void SplitRing::QueueHead(uint16_t head, std::vector<uint16_t> slots) {
  chains_[head] = std::move(slots);
  avail_->ring[avail_idx_ % size_] = head;
  ++avail_idx_;
  ++in_flight_;
}

absl::StatusOr<uint16_t> SplitRing::AddChain(absl::Span<const Segment> segments) {
  absl::StatusOr<std::vector<uint16_t>> slots = TakeSlots(segments.size());
  if (!slots.ok()) return slots.status();
  for (size_t i = 0; i < segments.size(); ++i) {
    vring_desc& desc = desc_[(*slots)[i]];
    const bool last = i + 1 == segments.size();
    desc.addr = segments[i].addr;
    desc.len = segments[i].len;
    desc.flags =
        (segments[i].device_writable ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT);
    desc.next = last ? 0 : (*slots)[i + 1];
  }
  const uint16_t head = (*slots)[0];
  QueueHead(head, *std::move(slots));
  return head;
}

absl::StatusOr<uint16_t> SplitRing::AddIndirect(uint64_t table_gpa,
                                                absl::Span<const Segment> segments) {
  if (segments.empty()) return absl::InvalidArgumentError("empty indirect table");
  auto* table = reinterpret_cast<vring_desc*>(
      memory_->Translate(table_gpa, segments.size() * sizeof(vring_desc)));
  if (table == nullptr) return absl::OutOfRangeError("indirect table outside guest memory");
  absl::StatusOr<std::vector<uint16_t>> slots = TakeSlots(1);
  if (!slots.ok()) return slots.status();
  for (size_t i = 0; i < segments.size(); ++i) {
    const bool last = i + 1 == segments.size();
    table[i].addr = segments[i].addr;
    table[i].len = segments[i].len;
    table[i].flags =
        (segments[i].device_writable ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT);
    table[i].next = last ? 0 : static_cast<uint16_t>(i + 1);
  }
  const uint16_t head = (*slots)[0];
  vring_desc& desc = desc_[head];
  desc.addr = table_gpa;
  desc.len = segments.size() * sizeof(vring_desc);
  desc.flags = VRING_DESC_F_INDIRECT;
  desc.next = 0;
  QueueHead(head, *std::move(slots));
  return head;
}

absl::StatusOr<uint16_t> SplitRing::AddRaw(absl::Span<const RawDescriptor> descriptors) {
  absl::StatusOr<std::vector<uint16_t>> slots = TakeSlots(descriptors.size());
  if (!slots.ok()) return slots.status();
  for (size_t i = 0; i < descriptors.size(); ++i) {
    vring_desc& desc = desc_[(*slots)[i]];
    desc.addr = descriptors[i].addr;
    desc.len = descriptors[i].len;
    desc.flags = descriptors[i].flags;
    desc.next = descriptors[i].next < descriptors.size() ? (*slots)[descriptors[i].next]
                                                         : descriptors[i].next;
  }
  const uint16_t head = (*slots)[0];
  QueueHead(head, *std::move(slots));
  return head;
}

bool SplitRing::Publish() {
  if (avail_idx_ == published_idx_) return false;
  const uint16_t old = published_idx_;
  StoreRelease(&avail_->idx, avail_idx_);
  published_idx_ = avail_idx_;
  // The device may be deciding right now whether to sleep: order the idx store
  // before reading its notification wishes (virtio_mb() in Linux).
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (event_idx_) {
    const uint16_t event = LoadAcquire(avail_event());
    return vring_need_event(event, published_idx_, old);
  }
  return (LoadAcquire(&used_->flags) & VRING_USED_F_NO_NOTIFY) == 0;
}

absl::StatusOr<std::optional<vring_used_elem>> SplitRing::PopUsed() {
  const uint16_t used_idx = LoadAcquire(&used_->idx);
  if (used_idx == last_used_) return std::nullopt;
  if (static_cast<uint16_t>(used_idx - last_used_) > in_flight_) {
    return absl::DataLossError(absl::StrFormat(
        "used->idx %d is %d entries past %d with only %d chains in flight", used_idx,
        static_cast<uint16_t>(used_idx - last_used_), last_used_, in_flight_));
  }
  const vring_used_elem elem = used_->ring[last_used_ % size_];
  if (elem.id >= size_ || chains_[elem.id].empty()) {
    return absl::DataLossError(
        absl::StrFormat("used id %d is not the head of an in-flight chain", elem.id));
  }
  ++last_used_;
  --in_flight_;
  for (uint16_t slot : chains_[elem.id]) free_.push_back(slot);
  chains_[elem.id].clear();
  return elem;
}

bool SplitRing::EnableInterrupts() {
  if (event_idx_) {
    StoreRelease(used_event(), last_used_);
  } else {
    StoreRelease(&avail_->flags, 0);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return LoadAcquire(&used_->idx) != last_used_;
}

}  // namespace virtiofsd::driver
