#include "broker/file_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "absl/synchronization/mutex.h"
#include "broker/credentials.h"
#include "common/fs_names.h"

namespace virtiofsd {

int FileOps::Open(const proto::Request& request, Response& response) {
  const proto::OpenRequest& r = request.open();
  std::shared_ptr<Inode> inode;
  if (int err = store_.GetNode(r.node(), inode)) return err;
  if (inode->type == S_IFDIR) return EISDIR;
  if (inode->type != S_IFREG) return EACCES;  // CVE-2020-35517: no device, fifo, socket.
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  const bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (store_.config().readonly && writes) return EROFS;
  std::optional<ScopedCapability> kill_suidgid;
  if (store_.config().killpriv_v2 && (r.open_flags() & proto::OPEN_KILL_SUIDGID)) {
    kill_suidgid.emplace(CAP_FSETID, false);
  }
  UniqueFd fd;
  if (int err = store_.Reopen(*inode, flags, fd)) return err;
  // A writer asks again before its first write if the capability stayed.
  const bool capability_stays = writes && store_.ClearMappedCapability(*inode) != 0;
  uint64_t handle_id;
  if (int err = store_.AddFileHandle(std::move(fd), inode, response, handle_id)) return err;
  response.reply.mutable_open()->set_handle(handle_id);
  response.reply.mutable_open()->set_kill_priv_on_write(capability_stays);
  return 0;
}

int FileOps::Create(const proto::Request& request, Response& response) {
  const proto::CreateRequest& r = request.create();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  UniqueFd fd;
  int err;
  {
    // Only while creating: truncating an existing file must clear set-id bits.
    std::optional<ScopedCapability> keep_setgid;
    if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
    err = store_.opener().Open(parent->fd.get(), r.name().c_str(), flags | O_CREAT | O_EXCL,
                               r.mode() & 07777, fd);
  }
  if (err == EEXIST && !(r.flags() & O_EXCL)) {
    // An existing entry: open it only if it is a regular file (never a fifo or a
    // device a racing guest process put there).
    UniqueFd path_fd;
    if ((err = store_.opener().Open(parent->fd.get(), r.name().c_str(), O_PATH, 0, path_fd)))
      return err;
    struct statx st;
    if ((err = StatFd(path_fd.get(), st))) return err;
    if (S_ISDIR(st.stx_mode)) return EISDIR;
    if (!S_ISREG(st.stx_mode)) return S_ISLNK(st.stx_mode) ? ELOOP : EACCES;
    fd.Reset(
        openat(store_.proc_self_fd(), FdName(path_fd.get()).c_str(), flags | O_CLOEXEC | O_NOCTTY));
    err = fd.valid() ? 0 : errno;
  }
  if (err) return err;
  proto::CreateReply* reply = response.reply.mutable_create();
  std::shared_ptr<Inode> inode;
  if ((err = store_.EntryForFd(*parent, fd, /*is_path=*/false, reply->mutable_entry(), &inode))) {
    return err;
  }
  // An existing file opened for writing: as OPEN does.
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
    reply->set_kill_priv_on_write(store_.ClearMappedCapability(*inode) != 0);
  }
  uint64_t handle_id;
  if ((err = store_.AddFileHandle(std::move(fd), inode, response, handle_id))) {
    store_.nodes().Forget(reply->entry().node(), 1);
    return err;
  }
  reply->set_handle(handle_id);
  return 0;
}

int FileOps::Tmpfile(const proto::Request& request, Response& response) {
  const proto::TmpfileRequest& r = request.tmpfile();
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  UniqueFd fd;
  {
    std::optional<ScopedCapability> keep_setgid;
    if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
    if (int err =
            store_.opener().Open(parent->fd.get(), ".", flags | O_TMPFILE, r.mode() & 07777, fd)) {
      return err;
    }
  }
  proto::CreateReply* reply = response.reply.mutable_create();
  std::shared_ptr<Inode> inode;
  if (int err = store_.EntryForFd(*parent, fd, /*is_path=*/false, reply->mutable_entry(), &inode)) {
    return err;
  }
  uint64_t handle_id;
  if (int err = store_.AddFileHandle(std::move(fd), inode, response, handle_id)) {
    store_.nodes().Forget(reply->entry().node(), 1);
    return err;
  }
  reply->set_handle(handle_id);
  return 0;
}

int FileOps::Release(const proto::Request& request, Response& response) {
  const proto::ReleaseRequest& r = request.release();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
  store_.handles().Remove(r.handle());
  if (r.release_flags() & proto::RELEASE_FLOCK_UNLOCK) flock(handle->fd.get(), LOCK_UN);
  if (r.release_flags() & proto::RELEASE_FLUSH) {
    absl::MutexLock lock(&handle->inode->lock_mu);
    handle->inode->lock_fds.erase(r.lock_owner());
  }
  response.reply.mutable_empty();
  return 0;
}

int FileOps::Flush(const proto::Request& request, Response& response) {
  const proto::FlushRequest& r = request.flush();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
  {
    // close() drops the closing process's POSIX locks on the file.
    absl::MutexLock lock(&handle->inode->lock_mu);
    handle->inode->lock_fds.erase(r.lock_owner());
  }
  // Closing a duplicate makes filesystems like NFS write back and report errors,
  // as the guest's close() would on the host.
  UniqueFd dup_fd(fcntl(handle->fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!dup_fd.valid()) return errno;
  if (close(dup_fd.Release()) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileOps::Fsync(const proto::Request& request, Response& response) {
  const proto::FsyncRequest& r = request.fsync();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
  if (int err = SyncFd(handle->fd.get(), r.datasync())) return err;
  response.reply.mutable_empty();
  return 0;
}

int FileOps::Fallocate(const proto::Request& request, Response& response) {
  const proto::FallocateRequest& r = request.fallocate();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
  constexpr uint32_t kAllowed = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
                                FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
                                FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
  if (r.mode() & ~kAllowed) return EOPNOTSUPP;
  if (int err = store_.ClearMappedCapability(*handle->inode)) return err;
  // Offsets beyond INT64_MAX turn negative here, and the kernel says EINVAL.
  if (fallocate(handle->fd.get(), static_cast<int>(r.mode()), static_cast<off_t>(r.offset()),
                static_cast<off_t>(r.length())) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int FileOps::Lseek(const proto::Request& request, Response& response) {
  const proto::LseekRequest& r = request.lseek();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
  if (r.whence() > SEEK_HOLE) return EINVAL;
  const off_t offset = lseek(handle->fd.get(), r.offset(), static_cast<int>(r.whence()));
  if (offset < 0) return errno;
  response.reply.mutable_lseek()->set_offset(offset);
  return 0;
}

int FileOps::CopyFileRange(const proto::Request& request, Response& response) {
  const proto::CopyFileRangeRequest& r = request.copy_file_range();
  std::shared_ptr<OpenHandle> in, out;
  if (int err = store_.GetFile(r.handle_in(), in)) return err;
  if (int err = store_.GetFile(r.handle_out(), out)) return err;
  if (r.flags() != 0) return EINVAL;
  if (int err = store_.ClearMappedCapability(*out->inode)) return err;
  loff_t offset_in = static_cast<loff_t>(r.offset_in());
  loff_t offset_out = static_cast<loff_t>(r.offset_out());
  const ssize_t n = copy_file_range(in->fd.get(), &offset_in, out->fd.get(), &offset_out,
                                    static_cast<size_t>(r.length()), 0);
  if (n < 0) return errno;
  response.reply.mutable_copy_file_range()->set_size(n);
  return 0;
}

int FileOps::Syncfs(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = store_.GetNode(request.syncfs().node(), inode)) return err;
  // syncfs() needs an open file of the filesystem; fall back to the share's root.
  UniqueFd fd;
  if (store_.Reopen(*inode, O_RDONLY | O_NONBLOCK, fd) != 0) {
    if (int err = store_.Reopen(*store_.root(), O_RDONLY, fd)) return err;
  }
  if (syncfs(fd.get()) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileOps::GuestOpenFlags(uint32_t guest) const {
  int flags = static_cast<int>(guest);
  if ((flags & O_ACCMODE) == O_ACCMODE) return -EINVAL;
  int allowed = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_TRUNC | O_LARGEFILE;
  if (store_.config().allow_direct_io) allowed |= O_DIRECT;
  if (store_.config().preserve_noatime) allowed |= O_NOATIME;
  flags &= allowed;
  if (store_.config().writeback) {
    // The guest's page cache may read from a file the guest opened write-only, and
    // writes back at offsets it chose itself.
    flags &= ~O_APPEND;
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  }
  return flags;
}

}  // namespace virtiofsd
