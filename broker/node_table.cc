#include "broker/node_table.h"

#include <algorithm>

namespace virtiofsd {

NodeTable::NodeTable(std::shared_ptr<Inode> root) {
  absl::MutexLock lock(&mu_);
  const InodeKey key = root->key;
  const uint64_t id = ids_.Pin(1, 0, std::move(root));
  // The root's lookup count never reaches 0: FORGET of the root is ignored.
  by_key_.emplace(key, Entry{id, 1});
}

std::shared_ptr<Inode> NodeTable::Get(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  return ids_.Get(id);
}

void NodeTable::Forget(uint64_t id, uint64_t count) {
  if (id == kRootId) return;
  std::shared_ptr<Inode> dropped;  // Closed after the lock is released.
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Inode> inode = ids_.Get(id);
  if (inode == nullptr) return;
  auto it = by_key_.find(inode->key);
  if (it == by_key_.end() || it->second.id != id) return;
  it->second.lookups -= std::min(count, it->second.lookups);
  if (it->second.lookups == 0) {
    by_key_.erase(it);
    dropped = ids_.Remove(id);
  }
}

void NodeTable::ForgetAll() {
  std::vector<std::shared_ptr<Inode>> dropped;  // Closed after the lock is released.
  absl::MutexLock lock(&mu_);
  dropped = ids_.RemoveAll();
  for (auto it = by_key_.begin(); it != by_key_.end();) {
    if (it->second.id == kRootId) {
      ++it;
    } else {
      by_key_.erase(it++);
    }
  }
}

size_t NodeTable::size() const {
  absl::MutexLock lock(&mu_);
  return ids_.size();
}

}  // namespace virtiofsd
