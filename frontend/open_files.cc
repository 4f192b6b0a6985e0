#include "frontend/open_files.h"

namespace virtiofsd {

void OpenFiles::Insert(uint64_t handle, UniqueFd fd, uint64_t node, bool kill_priv) {
  auto file = std::make_shared<const OpenFile>(std::move(fd), node, kill_priv);
  absl::MutexLock lock(&mu_);
  files_[handle] = std::move(file);
}

std::shared_ptr<const OpenFile> OpenFiles::Get(uint64_t handle) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(handle);
  return it == files_.end() ? nullptr : it->second;
}

void OpenFiles::NeedKillPriv(uint64_t node) {
  absl::MutexLock lock(&mu_);
  for (auto& [handle, file] : files_) {
    if (file->node == node) file->kill_priv.store(true, std::memory_order_relaxed);
  }
}

void OpenFiles::Remove(uint64_t handle) {
  std::shared_ptr<const OpenFile> file;  // Closed outside the lock.
  absl::MutexLock lock(&mu_);
  auto it = files_.find(handle);
  if (it == files_.end()) return;
  file = std::move(it->second);
  files_.erase(it);
}

void OpenFiles::Clear() {
  absl::flat_hash_map<uint64_t, std::shared_ptr<const OpenFile>> files;
  absl::MutexLock lock(&mu_);
  files.swap(files_);
}

}  // namespace virtiofsd
