// The handlers of directory handles: OPENDIR, READDIR (and READDIRPLUS),
// RELEASEDIR and FSYNCDIR.
//
// Directory fds never leave the broker: the frontend names them by handle id.
// READDIR packs entries for the frontend's own encoding, described by the request
// (ReaddirRequest.entry_bytes and name_alignment, see DirentBudget): every entry
// returned fits in max_bytes, so with `plus` the broker takes one lookup exactly
// for each entry it returns (never for "." and ".."), and the frontend has none
// to give back. The share root's ".." shows the root's own inode number.
//
// Runs on the caller's credentials (Server switched them). Thread-safe; READDIRs
// on one handle are serialised (they share the fd's position).

#ifndef VIRTIOFSD_BROKER_DIR_OPS_H_
#define VIRTIOFSD_BROKER_DIR_OPS_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "broker/inode_store.h"
#include "broker/response.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// The room READDIR fills: max_bytes (capped at kMaxBytes, what a frame carries
// with room to spare) of entries that each cost `entry_bytes` plus the name
// rounded up to a multiple of `name_alignment`. Pure arithmetic.
class DirentBudget {
 public:
  static constexpr uint32_t kMaxBytes = 64 * 1024;
  static constexpr uint32_t kMaxEntryBytes = 4096;
  static constexpr uint32_t kMaxNameAlignment = 4096;

  // nullopt (the caller answers EINVAL) for entry_bytes 0, above kMaxEntryBytes
  // or not a multiple of name_alignment, or a name_alignment that is not a power
  // of two up to kMaxNameAlignment.
  static std::optional<DirentBudget> Create(uint32_t max_bytes, uint32_t entry_bytes,
                                            uint32_t name_alignment);

  // Counts an entry with a name of `name_size` bytes if it still fits; false
  // (and nothing counted) if it does not.
  bool Take(size_t name_size);

  size_t max_bytes() const { return max_bytes_; }
  size_t used() const { return used_; }

 private:
  DirentBudget(size_t max_bytes, size_t entry_bytes, size_t name_alignment)
      : max_bytes_(max_bytes), entry_bytes_(entry_bytes), name_alignment_(name_alignment) {}

  size_t max_bytes_;
  size_t entry_bytes_;
  size_t name_alignment_;
  size_t used_ = 0;
};

class DirOps {
 public:
  // `store` must outlive this.
  explicit DirOps(InodeStore& store) : store_(store) {}

  // Each returns 0 (result in `response`) or a positive errno.
  int Opendir(const proto::Request& request, Response& response);
  // EINVAL for an offset beyond INT64_MAX or a layout DirentBudget refuses.
  int Readdir(const proto::Request& request, Response& response);
  int Releasedir(const proto::Request& request, Response& response);
  int Fsyncdir(const proto::Request& request, Response& response);

 private:
  InodeStore& store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_DIR_OPS_H_
