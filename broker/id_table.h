// A table of shared objects named by 64-bit ids that carry a generation: the low
// 32 bits are a slot, the high 32 bits the slot's generation, bumped each time the
// slot is freed. A stale id (its object removed) or a forged one therefore finds
// nothing, never another object, even when the slot has been reused.
//
// Not thread-safe: the owner (NodeTable, HandleTable) locks around it.

#ifndef VIRTIOFSD_BROKER_ID_TABLE_H_
#define VIRTIOFSD_BROKER_ID_TABLE_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace virtiofsd {

template <typename T>
class IdTable {
 public:
  // Slots below `first_slot` are never handed out (so ids 0.. stay unused or fixed).
  explicit IdTable(uint32_t first_slot = 1) : first_slot_(first_slot), slots_(first_slot) {}

  // Stores `object`; returns its id. Generation starts at `generation` for new slots.
  uint64_t Add(std::shared_ptr<T> object, uint32_t generation = 1) {
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(slots_.size());
      slots_.push_back(Slot{generation, nullptr});
    }
    slots_[index].object = std::move(object);
    ++count_;
    return MakeId(index, slots_[index].generation);
  }

  // Puts `object` at a fixed slot and generation (the root node); the slot must be
  // below `first_slot`.
  uint64_t Pin(uint32_t index, uint32_t generation, std::shared_ptr<T> object) {
    slots_[index] = Slot{generation, std::move(object)};
    ++count_;
    return MakeId(index, generation);
  }

  // The object named by `id`, or nullptr for an unknown, stale or forged id.
  std::shared_ptr<T> Get(uint64_t id) const {
    const Slot* slot = Find(id);
    return slot == nullptr ? nullptr : slot->object;
  }

  // Removes and returns the object named by `id` (nullptr if none).
  std::shared_ptr<T> Remove(uint64_t id) {
    Slot* slot = const_cast<Slot*>(Find(id));
    if (slot == nullptr) return nullptr;
    std::shared_ptr<T> object = std::move(slot->object);
    slot->object = nullptr;
    ++slot->generation;
    --count_;
    free_.push_back(static_cast<uint32_t>(id & 0xffffffffu));
    return object;
  }

  // Removes every object but the pinned ones; returns them, so the caller can let
  // them go after unlocking. Their ids are stale from now on.
  std::vector<std::shared_ptr<T>> RemoveAll() {
    std::vector<std::shared_ptr<T>> removed;
    for (uint32_t index = first_slot_; index < slots_.size(); ++index) {
      Slot& slot = slots_[index];
      if (slot.object == nullptr) continue;
      removed.push_back(std::move(slot.object));
      slot.object = nullptr;
      ++slot.generation;
      --count_;
      free_.push_back(index);
    }
    return removed;
  }

  size_t size() const { return count_; }

 private:
  struct Slot {
    uint32_t generation = 0;
    std::shared_ptr<T> object;
  };

  static uint64_t MakeId(uint32_t index, uint32_t generation) {
    return (static_cast<uint64_t>(generation) << 32) | index;
  }

  const Slot* Find(uint64_t id) const {
    const uint64_t index = id & 0xffffffffu;
    if (index >= slots_.size()) return nullptr;
    const Slot& slot = slots_[index];
    if (slot.object == nullptr || slot.generation != (id >> 32)) return nullptr;
    return &slot;
  }

  const uint32_t first_slot_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  size_t count_ = 0;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_ID_TABLE_H_
