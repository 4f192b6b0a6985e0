// The broker's inode store: the nodes the guest has looked up (each an O_PATH fd
// or a file handle, NodeTable), the files and directories it holds open
// (HandleTable), the fd budget both draw from, and the ways back from a held
// inode to the host: turning ids from the frontend into inodes and handles,
// looking up a name into a node and its attributes, and reopening a held inode.
//
// Every handler family (entry_ops.h, file_ops.h, dir_ops.h, xattr_ops.h,
// lock_ops.h) works through one store. Thread-safe.

#ifndef VIRTIOFSD_BROKER_INODE_STORE_H_
#define VIRTIOFSD_BROKER_INODE_STORE_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "broker/beneath.h"
#include "broker/fd_budget.h"
#include "broker/fs_config.h"
#include "broker/handle_table.h"
#include "broker/node_table.h"
#include "broker/response.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// For the *at() calls on a held fd itself.
inline constexpr int kAtEmptyNoFollow = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;

// statx() of `fd` itself (with its mount id). Returns 0 or the errno.
int StatFd(int fd, struct statx& st);

// The name of `fd` beneath /proc/self/fd.
std::string FdName(int fd);

// A node the frontend named and an O_PATH fd of it, valid while this lives.
struct HeldNode {
  std::shared_ptr<Inode> inode;
  int fd = -1;    // inode->fd, or `temp`.
  UniqueFd temp;  // Opened from the inode's file handle, if it has one.
};

// fsync() or, with `datasync`, fdatasync() of `fd`. Returns 0 or the errno.
int SyncFd(int fd, bool datasync);

class InodeStore {
 public:
  // Takes a directory fd of the shared directory (any open mode) and a directory
  // fd of /proc/self/fd (used to reopen held inodes). Probes file handle support
  // for --inode-file-handles (kMandatory without it: kFailedPrecondition). Fails
  // with the errno.
  static absl::StatusOr<std::unique_ptr<InodeStore>> Create(UniqueFd shared_dir,
                                                            UniqueFd proc_self_fd, FsConfig config);

  const FsConfig& config() const { return config_; }
  const BeneathOpener& opener() const { return opener_; }
  // The broker's /proc/self/fd: "N" beneath it is held fd N, reached through the
  // magic link (never a path).
  int proc_self_fd() const { return proc_self_fd_.get(); }
  NodeTable& nodes() { return nodes_; }
  HandleTable& handles() { return handles_; }
  std::shared_ptr<Inode> root() const { return nodes_.Get(NodeTable::kRootId); }

  // Ids from the frontend; each returns 0 or the errno to answer.
  int GetNode(uint64_t id, std::shared_ptr<Inode>& out) const;            // ESTALE
  int GetDir(uint64_t id, std::shared_ptr<Inode>& out) const;             // ESTALE, ENOTDIR
  int GetFile(uint64_t id, std::shared_ptr<OpenHandle>& out) const;       // EBADF
  int GetDirHandle(uint64_t id, std::shared_ptr<OpenHandle>& out) const;  // EBADF
  // GetNode(), then NodeFd() into `out`: ESTALE also once the file is gone.
  int GetHeldNode(uint64_t id, HeldNode& out) const;

  // Looks `name` up in `parent` (one checked component), takes a lookup
  // reference and fills `entry`. Returns 0 or the errno.
  int MakeEntry(const Inode& parent, const char* name, proto::Entry* entry);
  // Adds (or finds) the node for `fd`, takes a lookup reference and fills
  // `entry` (and `inode` when not null). An O_PATH fd (`is_path`) may move into a
  // new node; an open file stays with the caller. ENFILE beyond the fd budget.
  int EntryForFd(const Inode& parent, UniqueFd& fd, bool is_path, proto::Entry* entry,
                 std::shared_ptr<Inode>* inode);
  // The guest's view of `st`: ids translated to the guest's, submounts announced
  // (when the mount differs from `parent_mnt_id`).
  void FillAttr(const struct statx& st, uint64_t parent_mnt_id, proto::Attr* attr) const;

  // The inode's O_PATH fd: its own, or one opened from its file handle into
  // `temp`. Returns the fd, or -errno (ESTALE once the file is gone).
  int NodeFd(const Inode& inode, UniqueFd& temp) const;
  // Opens a held inode anew (regular files and directories only, else EACCES)
  // with `flags`. Returns 0 or the errno.
  int Reopen(const Inode& inode, int flags, UniqueFd& out) const;

  // One unit of the fd budget, or nullopt (the caller answers ENFILE).
  std::optional<FdToken> TakeFdToken() { return budget_.Take(); }
  // Holds `fd` as a new file handle of `inode` and sets `response.handle` to it.
  // Returns 0 or ENFILE.
  int AddFileHandle(UniqueFd fd, std::shared_ptr<Inode> inode, Response& response,
                    uint64_t& handle_id);

  // Makes this thread's cwd our /proc/self/fd, so FdName(fd) names held fd N: the
  // xattr syscalls have no fd form that takes an O_PATH fd, and following the
  // magic link reaches the held inode itself (even a symlink), never a path.
  // Needs a thread-private cwd (UnshareThreadFs()). Returns 0 or the errno.
  int EnterProcSelfFd() const;
  // The host name of security.capability under --xattrmap when it differs.
  const std::optional<std::string>& mapped_capability() const { return mapped_capability_; }
  // Removes the remapped security.capability (the kernel only clears the real
  // one) after a write, truncate or chown. Returns 0 (also when there was none,
  // or no mapping), or the errno.
  int ClearMappedCapability(const Inode& inode) const;

  size_t node_count() const { return nodes_.size(); }
  size_t handle_count() const { return handles_.size(); }

 private:
  InodeStore(std::shared_ptr<Inode> root, UniqueFd proc_self_fd, UniqueFd mount_fd,
             FsConfig config);

  // The node for an O_PATH fd when it should be held as a file handle; nullptr
  // to hold the fd (or when `err` is set).
  std::shared_ptr<Inode> HandleNode(int fd, const InodeKey& key, mode_t type, int& err) const;

  const FsConfig config_;
  const UniqueFd proc_self_fd_;
  // A readable fd of the share's mount for open_by_handle_at(); invalid when
  // file handles are off.
  const UniqueFd mount_fd_;
  const uint64_t root_mnt_id_;
  const BeneathOpener opener_;
  std::optional<std::string> mapped_capability_;
  FdBudget budget_;
  NodeTable nodes_;
  HandleTable handles_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_INODE_STORE_H_
