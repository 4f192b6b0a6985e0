// The broker's passthrough filesystem: one small handler per row of the
// protocol's operation table (common/channel/operations.h), each of which checks what
// the frontend sent (node and handle ids, names, flags against allow-lists, file
// types) and then makes one *at syscall relative to an fd it holds, answering
// with the kernel's errno.
//
// The handlers live in families, one file each: names and attributes
// (entry_ops.h), open files (file_ops.h), directory handles (dir_ops.h),
// extended attributes (xattr_ops.h) and locks (lock_ops.h), all working through
// one InodeStore (inode_store.h). FileSystem is their union: a row's handler is
// the member of FileSystem named like the row, so a row without one does not
// build (nor does a name two families define).
//
// Nothing is resolved by path from outside the shared directory: every name is
// one checked component opened beneath a held directory fd without following
// symlinks (BeneathOpener), and held inodes are reopened through the broker's
// own /proc/self/fd. OPEN opens only regular files, OPENDIR only directories; the
// only fds that leave are regular files opened with allow-listed flags.
//
// Thread-safe: many serving threads call Handle() at once. The caller (Server)
// has already switched the thread to the request's credentials, and each calling
// thread has its own cwd (UnshareThreadFs()): the xattr handlers change it.

#ifndef VIRTIOFSD_BROKER_FILESYSTEM_H_
#define VIRTIOFSD_BROKER_FILESYSTEM_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "broker/beneath.h"
#include "broker/dir_ops.h"
#include "broker/entry_ops.h"
#include "broker/file_ops.h"
#include "broker/fs_config.h"
#include "broker/inode_store.h"
#include "broker/lock_ops.h"
#include "broker/response.h"
#include "broker/xattr_ops.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// The rows of common/channel/operations.h that concern the channel rather than the share:
// the Server answers them itself, with a method named like the row. FileSystem
// serves every other row.
constexpr bool ServedByServer(proto::Request::OpCase op) {
  return op == proto::Request::kHandshake || op == proto::Request::kInterrupt;
}

class FileSystem : public EntryOps, public FileOps, public DirOps, public XattrOps, public LockOps {
 public:
  // Takes a directory fd of the shared directory (any open mode) and a directory
  // fd of /proc/self/fd (used to reopen held inodes). Fails with the errno.
  static absl::StatusOr<std::unique_ptr<FileSystem>> Create(UniqueFd shared_dir,
                                                            UniqueFd proc_self_fd, FsConfig config);
  // The CREATE handler, which the factory above would hide.
  using FileOps::Create;

  // Runs one request of a row not ServedByServer(). Returns 0 (result in
  // `response`), a positive errno (EROFS for a row whose Effect is kModifies on a
  // read-only share; ENOSYS for anything else), or kWaitLater when
  // `response.wait` must run before the answer exists.
  int Handle(const proto::Request& request, Response& response);
  static constexpr int kWaitLater = virtiofsd::kWaitLater;

  // Replaces the guest caller's uid/gid by the host ids they translate to
  // (FsConfig::uids/gids), before the server switches to them. Returns 0, or
  // EPERM when a forbid-guest rule covers either id.
  int CallerToHost(proto::Caller& caller) const;

  size_t node_count() const { return store_->node_count(); }
  size_t handle_count() const { return store_->handle_count(); }
  const BeneathOpener& opener() const { return store_->opener(); }

 private:
  explicit FileSystem(std::unique_ptr<InodeStore> store);

  const std::unique_ptr<InodeStore> store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_FILESYSTEM_H_
