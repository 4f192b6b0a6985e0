#include "frontend/virtqueue.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace virtiofsd {
namespace {

// Reads a ring field the guest may change under us exactly once.
template <typename T>
T ReadOnce(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}

template <typename T>
void WriteOnce(T& field, T value) {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

vring_desc CopyDesc(const vring_desc& desc) {
  return vring_desc{ReadOnce(desc.addr), ReadOnce(desc.len), ReadOnce(desc.flags),
                    ReadOnce(desc.next)};
}

// The used_event / avail_event words that follow the avail and used rings.
uint16_t* UsedEvent(vring_avail* avail, uint16_t size) { return &avail->ring[size]; }
uint16_t* AvailEvent(vring_used* used, uint16_t size) {
  return reinterpret_cast<uint16_t*>(&used->ring[size]);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Virtqueue>> Virtqueue::Create(
    const VirtqueueLayout& layout, uint16_t next_avail, bool event_idx, bool indirect,
    std::shared_ptr<const GuestMemory> memory) {
  const uint32_t size = layout.size;
  if (size == 0 || size > kMaxSize || (size & (size - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("queue size ", size,
                                                   " is not a power of two "
                                                   "in 1..",
                                                   kMaxSize));
  }
  const uint64_t desc_bytes = sizeof(vring_desc) * size;
  const uint64_t avail_bytes = sizeof(vring_avail) + sizeof(uint16_t) * (size + 1);
  const uint64_t used_bytes = sizeof(vring_used) + sizeof(vring_used_elem) * size + 2;
  auto* desc = reinterpret_cast<vring_desc*>(memory->TranslateUser(layout.desc_addr, desc_bytes));
  auto* avail =
      reinterpret_cast<vring_avail*>(memory->TranslateUser(layout.avail_addr, avail_bytes));
  auto* used = reinterpret_cast<vring_used*>(memory->TranslateUser(layout.used_addr, used_bytes));
  if (desc == nullptr || avail == nullptr || used == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("virtqueue rings (desc 0x", absl::Hex(layout.desc_addr), ", avail 0x",
                     absl::Hex(layout.avail_addr), ", used 0x", absl::Hex(layout.used_addr),
                     ") are not inside the shared guest memory (", memory->region_count(),
                     " regions); is QEMU's memory backend share=on?"));
  }
  if (reinterpret_cast<uintptr_t>(desc) % 16 != 0 || reinterpret_cast<uintptr_t>(avail) % 2 != 0 ||
      reinterpret_cast<uintptr_t>(used) % 4 != 0) {
    return absl::InvalidArgumentError("virtqueue rings are misaligned");
  }
  // Resuming a queue (after GET_VRING_BASE or a reconnect) continues where the used
  // ring stands.
  const uint16_t next_used = ReadOnce(used->idx);
  return std::unique_ptr<Virtqueue>(new Virtqueue(layout, next_avail, next_used, event_idx,
                                                  indirect, std::move(memory), desc, avail, used));
}

absl::StatusOr<std::optional<uint16_t>> Virtqueue::PopAvail() {
  const uint16_t avail_idx = ReadOnce(avail_->idx);
  const uint16_t pending = static_cast<uint16_t>(avail_idx - next_avail_);
  if (pending == 0) return std::nullopt;
  if (pending > layout_.size) {
    return absl::DataLossError(
        absl::StrCat("driver made ", pending, " heads available in a ring of ", layout_.size));
  }
  // Ring entries written before the index are visible after this fence.
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint16_t head = ReadOnce(avail_->ring[next_avail_ % layout_.size]);
  ++next_avail_;
  return head;
}

absl::Status Virtqueue::AddBuffer(const vring_desc& desc, DescriptorChain& chain) const {
  const bool writable = desc.flags & VRING_DESC_F_WRITE;
  if (!writable && !chain.writable.empty()) {
    return absl::InvalidArgumentError("readable descriptor after a writable one");
  }
  if (desc.len == 0) return absl::OkStatus();  // Nothing to move; harmless.
  uint8_t* host = memory_->TranslateGuest(desc.addr, desc.len);
  if (host == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor [0x", absl::Hex(desc.addr), ", +",
                                                   desc.len, ") is outside guest memory"));
  }
  iovec buffer{host, desc.len};
  if (writable) {
    chain.writable.push_back(buffer);
    chain.writable_bytes += desc.len;
  } else {
    chain.readable.push_back(buffer);
    chain.readable_bytes += desc.len;
  }
  return absl::OkStatus();
}

absl::Status Virtqueue::WalkIndirect(const vring_desc& table, DescriptorChain& chain,
                                     uint32_t& budget) const {
  if (!indirect_) return absl::InvalidArgumentError("indirect descriptor not negotiated");
  if (table.flags & VRING_DESC_F_NEXT) {
    return absl::InvalidArgumentError("indirect descriptor with NEXT set");
  }
  if (table.len == 0 || table.len % sizeof(vring_desc) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("indirect table of ", table.len, " bytes"));
  }
  const uint32_t count = table.len / sizeof(vring_desc);
  if (count > kMaxSize) return absl::InvalidArgumentError("indirect table too long");
  const auto* entries =
      reinterpret_cast<const vring_desc*>(memory_->TranslateGuest(table.addr, table.len));
  if (entries == nullptr || reinterpret_cast<uintptr_t>(entries) % alignof(vring_desc) != 0) {
    return absl::InvalidArgumentError("indirect table outside guest memory or misaligned");
  }
  uint32_t index = 0;
  for (uint32_t visited = 0;; ++visited) {
    if (visited >= count || budget-- == 0) {
      return absl::InvalidArgumentError("indirect chain loops or is too long");
    }
    const vring_desc desc = CopyDesc(entries[index]);
    if (desc.flags & VRING_DESC_F_INDIRECT) {
      return absl::InvalidArgumentError("nested indirect descriptor");
    }
    if (auto status = AddBuffer(desc, chain); !status.ok()) return status;
    if (!(desc.flags & VRING_DESC_F_NEXT)) return absl::OkStatus();
    index = desc.next;
    if (index >= count) return absl::InvalidArgumentError("indirect next index out of range");
  }
}

absl::StatusOr<DescriptorChain> Virtqueue::ReadChain(uint16_t head) const {
  DescriptorChain chain;
  chain.head = head;
  // Every descriptor, direct or indirect, counts against this budget, so no chain
  // walks longer than the largest legal one.
  uint32_t budget = 2u * kMaxSize;
  uint16_t index = head;
  for (uint32_t visited = 0;; ++visited) {
    if (index >= layout_.size) {
      return absl::InvalidArgumentError(absl::StrCat("descriptor index ", index, " out of range"));
    }
    if (visited >= layout_.size || budget-- == 0) {
      return absl::InvalidArgumentError("descriptor chain loops or is too long");
    }
    const vring_desc desc = CopyDesc(desc_[index]);
    if (desc.flags & VRING_DESC_F_INDIRECT) {
      // An indirect descriptor ends the chain (NEXT is refused in WalkIndirect).
      if (auto status = WalkIndirect(desc, chain, budget); !status.ok()) return status;
      return chain;
    }
    if (auto status = AddBuffer(desc, chain); !status.ok()) return status;
    if (!(desc.flags & VRING_DESC_F_NEXT)) return chain;
    index = desc.next;
  }
}

void Virtqueue::PushUsed(uint16_t head, uint32_t written) {
  vring_used_elem& elem = used_->ring[next_used_ % layout_.size];
  WriteOnce(elem.id, static_cast<uint32_t>(head));
  WriteOnce(elem.len, written);
  ++next_used_;
  // The element is visible before the index that publishes it.
  std::atomic_thread_fence(std::memory_order_release);
  WriteOnce(used_->idx, next_used_);
}

bool Virtqueue::NeedsInterrupt() {
  // Publish used->idx before reading the driver's event index / flags.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t old_used = last_signalled_used_;
  last_signalled_used_ = next_used_;
  if (event_idx_) {
    const uint16_t used_event = ReadOnce(*UsedEvent(avail_, layout_.size));
    return vring_need_event(used_event, next_used_, old_used);
  }
  return !(ReadOnce(avail_->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool Virtqueue::EnableNotifications() {
  if (event_idx_) {
    WriteOnce(*AvailEvent(used_, layout_.size), next_avail_);
  } else {
    WriteOnce(used_->flags, static_cast<uint16_t>(0));
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return ReadOnce(avail_->idx) != next_avail_;
}

}  // namespace virtiofsd
