// The regular files the guest has open, by FUSE file handle: the broker's handle id
// and the fd it passed over SCM_RIGHTS, which READ and WRITE use directly.
//
// Thread-safe. Get() hands out a shared reference, so a file stays open for an I/O
// in progress even if a RELEASE for it races ahead.

#ifndef VIRTIOFSD_FRONTEND_OPEN_FILES_H_
#define VIRTIOFSD_FRONTEND_OPEN_FILES_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// One open file: its fd and the node it was opened on.
struct OpenFile {
  OpenFile(UniqueFd file_fd, uint64_t file_node, bool kill)
      : fd(std::move(file_fd)), node(file_node), kill_priv(kill) {}
  const UniqueFd fd;
  const uint64_t node;
  // The file may carry a remapped security.capability: the broker must remove it
  // before the next write through this fd (proto OpenReply.kill_priv_on_write).
  mutable std::atomic<bool> kill_priv;
};

class OpenFiles {
 public:
  // Records `fd`, open on `node`, under the broker's handle id; replaces (and
  // closes) any previous file with the same id.
  void Insert(uint64_t handle, UniqueFd fd, uint64_t node, bool kill_priv);
  // The file for `handle`, or nullptr if the guest has no such handle open.
  std::shared_ptr<const OpenFile> Get(uint64_t handle) const;
  // Marks every file open on `node` as needing the kill before its next write
  // (a security.capability was set on it).
  void NeedKillPriv(uint64_t node);
  // Forgets `handle`; the fd closes when the last I/O using it ends.
  void Remove(uint64_t handle);
  void Clear();

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<const OpenFile>> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_OPEN_FILES_H_
