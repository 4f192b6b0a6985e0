// The broker's inodes: node id -> the O_PATH fd that pins the inode, its identity
// (st_ino, st_dev, mount id) and the guest's lookup count. Identity is unique in
// the table, so hard links and repeated lookups share one node; FORGET drops
// lookups and the node (and its fd) goes when they reach 0. Node 1 is the shared
// directory's root and is never forgotten.
//
// Ids carry a generation (IdTable): a stale or forged id finds nothing (the
// caller answers ESTALE). Thread-safe. Get() hands out a shared_ptr, so an inode
// a request is using stays open even if a concurrent FORGET removes it.

#ifndef VIRTIOFSD_BROKER_NODE_TABLE_H_
#define VIRTIOFSD_BROKER_NODE_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "broker/fd_budget.h"
#include "broker/id_table.h"
#include "common/unique_fd.h"

namespace virtiofsd {

struct InodeKey {
  uint64_t ino = 0;
  uint64_t dev = 0;
  uint64_t mnt_id = 0;

  bool operator==(const InodeKey& other) const {
    return ino == other.ino && dev == other.dev && mnt_id == other.mnt_id;
  }
  template <typename H>
  friend H AbslHashValue(H h, const InodeKey& key) {
    return H::combine(std::move(h), key.ino, key.dev, key.mnt_id);
  }
};

// An open file description holding one guest lock owner's POSIX locks.
struct LockFile {
  UniqueFd fd;
  FdToken token;
};

struct Inode {
  Inode(UniqueFd fd, InodeKey key, mode_t type, FdToken token, std::string handle = {})
      : fd(std::move(fd)),
        handle(std::move(handle)),
        key(key),
        type(type),
        token(std::move(token)) {}

  // O_PATH | O_NOFOLLOW: never read, written or sent. Invalid when `handle` is set.
  const UniqueFd fd;
  // A struct file_handle (--inode-file-handles): the inode without holding an fd.
  const std::string handle;
  const InodeKey key;
  const mode_t type;  // S_IFMT bits; an inode never changes type.
  FdToken token;

  // POSIX record locks: one open file description per guest lock owner, so OFD
  // locks give each owner its own locks (as the QEMU C daemon does).
  absl::Mutex lock_mu;
  absl::flat_hash_map<uint64_t, std::shared_ptr<LockFile>> lock_fds ABSL_GUARDED_BY(lock_mu);
};

class NodeTable {
 public:
  static constexpr uint64_t kRootId = 1;

  explicit NodeTable(std::shared_ptr<Inode> root);

  // The node with `key` gains one lookup; if none exists, `make()` builds the inode
  // (it is not called otherwise, so no fd is wasted). Returns the node's id, or 0
  // when make() returned nullptr.
  template <typename Make>
  uint64_t LookupOrInsert(const InodeKey& key, Make make);

  // The inode, or nullptr for an unknown, stale or forged id.
  std::shared_ptr<Inode> Get(uint64_t id) const;

  // Drops up to `count` lookups (unknown ids and the root are ignored).
  void Forget(uint64_t id, uint64_t count);

  // Drops every node but the root, whatever its lookup count (the guest's session
  // ended).
  void ForgetAll();

  // Nodes held, the root included.
  size_t size() const;

 private:
  struct Entry {
    uint64_t id;
    uint64_t lookups;
  };

  mutable absl::Mutex mu_;
  IdTable<Inode> ids_ ABSL_GUARDED_BY(mu_){2};
  absl::flat_hash_map<InodeKey, Entry> by_key_ ABSL_GUARDED_BY(mu_);
};

template <typename Make>
uint64_t NodeTable::LookupOrInsert(const InodeKey& key, Make make) {
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    ++it->second.lookups;
    return it->second.id;
  }
  std::shared_ptr<Inode> inode = make();
  if (inode == nullptr) return 0;
  const uint64_t id = ids_.Add(std::move(inode));
  by_key_.emplace(key, Entry{id, 1});
  return id;
}

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_NODE_TABLE_H_
