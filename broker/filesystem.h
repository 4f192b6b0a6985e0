// The broker's passthrough filesystem: one small handler per protocol operation
// (proto/broker.proto), each of which checks what the frontend sent (node and
// handle ids, names, flags against allow-lists, file types) and then makes one
// *at syscall relative to an fd it holds, answering with the kernel's errno.
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

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "broker/beneath.h"
#include "broker/fd_budget.h"
#include "broker/handle_table.h"
#include "broker/id_translation.h"
#include "broker/node_table.h"
#include "broker/options.h"
#include "broker/xattr_map.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

struct FsConfig {
  bool readonly = false;
  bool xattr = false;
  bool posix_acl = false;
  bool announce_submounts = false;
  bool allow_direct_io = false;
  bool writeback = false;
  bool killpriv_v2 = false;
  bool preserve_noatime = false;
  // prefer: file handles for non-directories on the share's own mount (no fd
  // held), O_PATH fds elsewhere; mandatory: Create() fails without handle support.
  FileHandleMode inode_file_handles = FileHandleMode::kNever;
  std::optional<XattrMap> xattrmap;
  // --translate-uid/--translate-gid: callers, chown targets and ACL ids go
  // guest->host, attributes and ACL ids come back host->guest.
  IdTranslation uids;
  IdTranslation gids;
  // Fds held for nodes and handles at most; beyond it the guest gets ENFILE.
  int64_t fd_budget = 1 << 20;
};

// What a handler produces besides the errno.
struct Response {
  proto::Reply reply;  // The handler sets the result on success.
  // The fd a successful Open/Create/Tmpfile reply carries, kept open by `handle`
  // until the reply is sent (a concurrent RELEASE cannot close it under us).
  std::shared_ptr<OpenHandle> handle;
  // Set instead of a result when the answer must wait (SETLKW, blocking flock):
  // run on a thread of its own; returns the errno, EINTR when a signal cut it
  // short (the caller decides whether to retry or answer EINTR).
  std::function<int()> wait;
};

class FileSystem {
 public:
  // Takes a directory fd of the shared directory (any open mode) and a directory
  // fd of /proc/self/fd (used to reopen held inodes). Fails with the errno.
  static absl::StatusOr<std::unique_ptr<FileSystem>> Create(UniqueFd shared_dir,
                                                            UniqueFd proc_self_fd, FsConfig config);

  // Runs one request (never Handshake or Interrupt, which the server answers).
  // Returns 0 (result in `response`), a positive errno, or kWaitLater when
  // `response.wait` must run before the answer exists.
  int Handle(const proto::Request& request, Response& response);
  static constexpr int kWaitLater = -1;

  // Replaces the guest caller's uid/gid by the host ids they translate to
  // (FsConfig::uids/gids), before the server switches to them. Returns 0, or
  // EPERM when a forbid-guest rule covers either id.
  int CallerToHost(proto::Caller& caller) const;

  size_t node_count() const { return nodes_.size(); }
  size_t handle_count() const { return handles_.size(); }
  const BeneathOpener& opener() const { return opener_; }

 private:
  using Handler = int (FileSystem::*)(const proto::Request&, Response&);
  struct HandlerEntry {
    proto::Request::OpCase op;
    Handler handler;
    bool modifies;  // EROFS under --readonly.
  };
  static const HandlerEntry kHandlers[];

  FileSystem(std::shared_ptr<Inode> root, UniqueFd proc_self_fd, FsConfig config);

  int Lookup(const proto::Request& request, Response& response);
  int Forget(const proto::Request& request, Response& response);
  int BatchForget(const proto::Request& request, Response& response);
  int Destroy(const proto::Request& request, Response& response);
  int Getattr(const proto::Request& request, Response& response);
  int Setattr(const proto::Request& request, Response& response);
  int Readlink(const proto::Request& request, Response& response);
  int Symlink(const proto::Request& request, Response& response);
  int Mknod(const proto::Request& request, Response& response);
  int Mkdir(const proto::Request& request, Response& response);
  int Unlink(const proto::Request& request, Response& response);
  int Rmdir(const proto::Request& request, Response& response);
  int Rename(const proto::Request& request, Response& response);
  int Link(const proto::Request& request, Response& response);
  int Open(const proto::Request& request, Response& response);
  int Create(const proto::Request& request, Response& response);
  int Tmpfile(const proto::Request& request, Response& response);
  int Release(const proto::Request& request, Response& response);
  int Flush(const proto::Request& request, Response& response);
  int Fsync(const proto::Request& request, Response& response);
  int Opendir(const proto::Request& request, Response& response);
  int Readdir(const proto::Request& request, Response& response);
  int Releasedir(const proto::Request& request, Response& response);
  int Fsyncdir(const proto::Request& request, Response& response);
  int Statfs(const proto::Request& request, Response& response);
  int Access(const proto::Request& request, Response& response);
  int Setxattr(const proto::Request& request, Response& response);
  int Getxattr(const proto::Request& request, Response& response);
  int Listxattr(const proto::Request& request, Response& response);
  int Removexattr(const proto::Request& request, Response& response);
  int Fallocate(const proto::Request& request, Response& response);
  int Lseek(const proto::Request& request, Response& response);
  int CopyFileRange(const proto::Request& request, Response& response);
  int Syncfs(const proto::Request& request, Response& response);
  int Getlk(const proto::Request& request, Response& response);
  int Setlk(const proto::Request& request, Response& response);

  // Lookups of ids from the frontend; each returns 0 or the errno to answer.
  int GetNode(uint64_t id, std::shared_ptr<Inode>& out) const;            // ESTALE
  int GetDir(uint64_t id, std::shared_ptr<Inode>& out) const;             // ESTALE, ENOTDIR
  int GetFile(uint64_t id, std::shared_ptr<OpenHandle>& out) const;       // EBADF
  int GetDirHandle(uint64_t id, std::shared_ptr<OpenHandle>& out) const;  // EBADF

  // Looks `name` up in `parent` (one checked component), takes a lookup
  // reference and fills `entry`.
  int MakeEntry(const Inode& parent, const char* name, proto::Entry* entry);
  // Adds (or finds) the node for `fd` and fills `entry`. An O_PATH fd (`is_path`)
  // may move into a new node; an open file stays with the caller.
  int EntryForFd(const Inode& parent, UniqueFd& fd, bool is_path, proto::Entry* entry,
                 std::shared_ptr<Inode>* inode);
  void FillAttr(const struct statx& st, uint64_t parent_mnt_id, proto::Attr* attr) const;
  // The inode's O_PATH fd: its own, or one opened from its file handle into
  // `temp`. Returns the fd, or -errno (ESTALE once the file is gone).
  int NodeFd(const Inode& inode, UniqueFd& temp) const;
  // The node for an O_PATH fd when it should be held as a file handle; nullptr
  // to hold the fd (or when `err` is set).
  std::shared_ptr<Inode> HandleNode(int fd, const InodeKey& key, mode_t type, int& err) const;
  // Opens a held inode anew (regular files and directories only) with `flags`.
  int Reopen(const Inode& inode, int flags, UniqueFd& out) const;
  // Open flags from the guest, masked by the allow-list and --writeback.
  int GuestOpenFlags(uint32_t flags) const;
  int AddFileHandle(UniqueFd fd, std::shared_ptr<Inode> inode, Response& response,
                    uint64_t& handle_id);
  // The guest's xattr name as the host knows it; errno when refused.
  int HostXattrName(const std::string& guest_name, std::string& host_name) const;
  // True for a POSIX ACL xattr (guest name) whose ids need translating.
  bool IsTranslatedAcl(const std::string& guest_name) const;
  // Makes this thread's cwd our /proc/self/fd, so "N" names held fd N: the xattr
  // syscalls have no fd form that takes an O_PATH fd, and following the magic
  // link reaches the held inode itself (even a symlink), never a path.
  // Needs a thread-private cwd (UnshareThreadFs()).
  int EnterProcSelfFd() const;
  // Removes the remapped security.capability (the kernel only clears the real one).
  // Returns 0 (also when there was none, or no mapping), or the errno.
  int ClearMappedCapability(const Inode& inode) const;
  // EPERM when a caller other than root sets or removes security.capability (by
  // its guest or its host name); else 0.
  int CheckCapabilityXattr(const proto::Request& request, const std::string& host_name) const;
  // The fd holding `owner`'s POSIX locks on the handle's inode (created on demand).
  // Counts against the fd budget (ENFILE).
  int LockFd(const OpenHandle& handle, uint64_t owner, std::shared_ptr<LockFile>& out);

  const FsConfig config_;
  const UniqueFd proc_self_fd_;
  // A readable fd of the share's mount for open_by_handle_at(); invalid when
  // file handles are off.
  UniqueFd mount_fd_;
  uint64_t root_mnt_id_ = 0;
  const BeneathOpener opener_;
  std::optional<std::string> mapped_capability_;  // Host name of security.capability.
  FdBudget budget_;
  NodeTable nodes_;
  HandleTable handles_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_FILESYSTEM_H_
