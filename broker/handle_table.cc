#include "broker/handle_table.h"

namespace virtiofsd {

uint64_t HandleTable::Add(std::shared_ptr<OpenHandle> handle) {
  absl::MutexLock lock(&mu_);
  return ids_.Add(std::move(handle));
}

std::shared_ptr<OpenHandle> HandleTable::Get(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  return ids_.Get(id);
}

std::shared_ptr<OpenHandle> HandleTable::Remove(uint64_t id) {
  std::shared_ptr<OpenHandle> handle;
  {
    absl::MutexLock lock(&mu_);
    handle = ids_.Remove(id);
  }
  return handle;
}

void HandleTable::RemoveAll() {
  std::vector<std::shared_ptr<OpenHandle>> removed;  // Closed after the lock is released.
  absl::MutexLock lock(&mu_);
  removed = ids_.RemoveAll();
}

size_t HandleTable::size() const {
  absl::MutexLock lock(&mu_);
  return ids_.size();
}

}  // namespace virtiofsd
