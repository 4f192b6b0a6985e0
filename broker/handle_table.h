// Files and directories the broker holds open for the guest: handle id -> the
// open fd and its node. OPEN/CREATE/TMPFILE add file handles (the same open file
// description whose duplicate the frontend received), OPENDIR adds directory
// handles (never sent). RELEASE/RELEASEDIR remove them.
//
// Ids carry a generation (IdTable): a stale or forged id finds nothing (the
// caller answers EBADF). Thread-safe; Get() keeps the handle open for the caller
// even if a concurrent RELEASE removes it.

#ifndef VIRTIOFSD_BROKER_HANDLE_TABLE_H_
#define VIRTIOFSD_BROKER_HANDLE_TABLE_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/fd_budget.h"
#include "broker/id_table.h"
#include "broker/node_table.h"
#include "common/unique_fd.h"

namespace virtiofsd {

struct OpenHandle {
  OpenHandle(UniqueFd fd, std::shared_ptr<Inode> inode, bool is_dir, FdToken token)
      : fd(std::move(fd)), inode(std::move(inode)), is_dir(is_dir), token(std::move(token)) {}

  const UniqueFd fd;
  const std::shared_ptr<Inode> inode;
  const bool is_dir;
  FdToken token;
  // Serialises readdir on a directory handle (its fd's position is shared).
  absl::Mutex dir_mu;
};

class HandleTable {
 public:
  uint64_t Add(std::shared_ptr<OpenHandle> handle);
  // The handle, or nullptr for an unknown, stale or forged id.
  std::shared_ptr<OpenHandle> Get(uint64_t id) const;
  // Removes and returns the handle (nullptr if none).
  std::shared_ptr<OpenHandle> Remove(uint64_t id);
  // Removes every handle; each closes when its last in-flight user lets go.
  void RemoveAll();
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  IdTable<OpenHandle> ids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_HANDLE_TABLE_H_
