#include "broker/filesystem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/credentials.h"
#include "common/fs_names.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

using Op = proto::Request::OpCase;

constexpr int kAtEmptyNoFollow = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;

constexpr uint32_t kXattrSizeMax = 64 * 1024;  // XATTR_SIZE_MAX, and XATTR_LIST_MAX.
constexpr char kAclAccess[] = "system.posix_acl_access";
constexpr char kAclDefault[] = "system.posix_acl_default";
constexpr char kCapabilityXattr[] = "security.capability";

int StatFd(int fd, struct statx& st) {
  return statx(fd, "", kAtEmptyNoFollow | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID,
               &st) == 0
             ? 0
             : errno;
}

uint64_t MountId(const struct statx& st) { return st.stx_mnt_id; }

std::string FdName(int fd) { return std::to_string(fd); }

// FUSE carries rdev as the kernel's new_encode_dev() 32-bit value.
uint32_t EncodeDev(uint32_t major, uint32_t minor) {
  return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}
dev_t DecodeDev(uint32_t rdev) {
  return makedev((rdev & 0xfff00) >> 8, (rdev & 0xff) | ((rdev >> 12) & 0xfff00));
}

// A FUSE lock range (end inclusive, OFFSET_MAX = to the end) as struct flock.
int ToFlock(const proto::FileLock& lock, struct flock& fl) {
  if (lock.type() != F_RDLCK && lock.type() != F_WRLCK && lock.type() != F_UNLCK) return EINVAL;
  if (lock.start() > INT64_MAX || lock.end() > INT64_MAX || lock.end() < lock.start()) {
    return EINVAL;
  }
  fl = {};
  fl.l_type = static_cast<short>(lock.type());
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(lock.start());
  fl.l_len = lock.end() == INT64_MAX ? 0 : static_cast<off_t>(lock.end() - lock.start() + 1);
  return 0;
}

}  // namespace

const FileSystem::HandlerEntry FileSystem::kHandlers[] = {
    {Op::kLookup, &FileSystem::Lookup, false},
    {Op::kForget, &FileSystem::Forget, false},
    {Op::kBatchForget, &FileSystem::BatchForget, false},
    {Op::kGetattr, &FileSystem::Getattr, false},
    {Op::kSetattr, &FileSystem::Setattr, true},
    {Op::kReadlink, &FileSystem::Readlink, false},
    {Op::kSymlink, &FileSystem::Symlink, true},
    {Op::kMknod, &FileSystem::Mknod, true},
    {Op::kMkdir, &FileSystem::Mkdir, true},
    {Op::kUnlink, &FileSystem::Unlink, true},
    {Op::kRmdir, &FileSystem::Rmdir, true},
    {Op::kRename, &FileSystem::Rename, true},
    {Op::kLink, &FileSystem::Link, true},
    {Op::kOpen, &FileSystem::Open, false},  // EROFS for write modes, inside.
    {Op::kCreate, &FileSystem::Create, true},
    {Op::kTmpfile, &FileSystem::Tmpfile, true},
    {Op::kRelease, &FileSystem::Release, false},
    {Op::kFlush, &FileSystem::Flush, false},
    {Op::kFsync, &FileSystem::Fsync, false},
    {Op::kOpendir, &FileSystem::Opendir, false},
    {Op::kReaddir, &FileSystem::Readdir, false},
    {Op::kReleasedir, &FileSystem::Releasedir, false},
    {Op::kFsyncdir, &FileSystem::Fsyncdir, false},
    {Op::kStatfs, &FileSystem::Statfs, false},
    {Op::kAccess, &FileSystem::Access, false},
    {Op::kSetxattr, &FileSystem::Setxattr, true},
    {Op::kGetxattr, &FileSystem::Getxattr, false},
    {Op::kListxattr, &FileSystem::Listxattr, false},
    {Op::kRemovexattr, &FileSystem::Removexattr, true},
    {Op::kFallocate, &FileSystem::Fallocate, true},
    {Op::kLseek, &FileSystem::Lseek, false},
    {Op::kCopyFileRange, &FileSystem::CopyFileRange, true},
    {Op::kSyncfs, &FileSystem::Syncfs, false},
    {Op::kGetlk, &FileSystem::Getlk, false},
    {Op::kSetlk, &FileSystem::Setlk, false},
    {Op::kDestroy, &FileSystem::Destroy, false},
};

absl::StatusOr<std::unique_ptr<FileSystem>> FileSystem::Create(UniqueFd shared_dir,
                                                               UniqueFd proc_self_fd,
                                                               FsConfig config) {
  UniqueFd root(openat(shared_dir.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(errno, "open shared dir");
  struct statx st;
  if (int err = StatFd(root.get(), st)) return ErrnoError(err, "stat shared dir");
  const InodeKey key{st.stx_ino, makedev(st.stx_dev_major, st.stx_dev_minor), MountId(st)};
  UniqueFd mount_fd;
  if (config.inode_file_handles != FileHandleMode::kNever) {
    mount_fd.Reset(openat(shared_dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    file_handle probe = {};
    int mount_id;
    // EOVERFLOW: handles work, our zero-sized buffer was only too small.
    const bool supported =
        mount_fd.valid() &&
        name_to_handle_at(root.get(), "", &probe, &mount_id, AT_EMPTY_PATH) < 0 &&
        errno == EOVERFLOW;
    if (!supported) {
      if (config.inode_file_handles == FileHandleMode::kMandatory) {
        return absl::FailedPreconditionError("the shared dir's filesystem has no file handles");
      }
      mount_fd.Reset();
      config.inode_file_handles = FileHandleMode::kNever;
    }
  }
  auto inode = std::make_shared<Inode>(std::move(root), key, S_IFDIR, FdToken());
  std::unique_ptr<FileSystem> fs(
      new FileSystem(std::move(inode), std::move(proc_self_fd), std::move(config)));
  fs->mount_fd_ = std::move(mount_fd);
  fs->root_mnt_id_ = key.mnt_id;
  return fs;
}

FileSystem::FileSystem(std::shared_ptr<Inode> root, UniqueFd proc_self_fd, FsConfig config)
    : config_(std::move(config)),
      proc_self_fd_(std::move(proc_self_fd)),
      opener_(BeneathOpener::Probe()),
      budget_(config_.fd_budget),
      nodes_(std::move(root)) {
  if (config_.xattrmap) mapped_capability_ = config_.xattrmap->ToHost("security.capability");
  if (mapped_capability_ == "security.capability") mapped_capability_.reset();
}

int FileSystem::Handle(const proto::Request& request, Response& response) {
  for (const HandlerEntry& entry : kHandlers) {
    if (entry.op != request.op_case()) continue;
    if (entry.modifies && config_.readonly) return EROFS;
    const int err = (this->*entry.handler)(request, response);
    // The broker's own fd limit is no guest error: the system ran out of files.
    return err == EMFILE ? ENFILE : err;
  }
  return ENOSYS;
}

// --- Ids from the frontend ---------------------------------------------------------

int FileSystem::GetNode(uint64_t id, std::shared_ptr<Inode>& out) const {
  out = nodes_.Get(id);
  return out == nullptr ? ESTALE : 0;
}

int FileSystem::GetDir(uint64_t id, std::shared_ptr<Inode>& out) const {
  if (int err = GetNode(id, out)) return err;
  return out->type == S_IFDIR ? 0 : ENOTDIR;
}

int FileSystem::GetFile(uint64_t id, std::shared_ptr<OpenHandle>& out) const {
  out = handles_.Get(id);
  return out == nullptr || out->is_dir ? EBADF : 0;
}

int FileSystem::GetDirHandle(uint64_t id, std::shared_ptr<OpenHandle>& out) const {
  out = handles_.Get(id);
  return out == nullptr || !out->is_dir ? EBADF : 0;
}

// --- Helpers -----------------------------------------------------------------------

void FileSystem::FillAttr(const struct statx& st, uint64_t parent_mnt_id, proto::Attr* attr) const {
  attr->set_ino(st.stx_ino);
  attr->set_size(st.stx_size);
  attr->set_blocks(st.stx_blocks);
  attr->set_atime(st.stx_atime.tv_sec);
  attr->set_mtime(st.stx_mtime.tv_sec);
  attr->set_ctime(st.stx_ctime.tv_sec);
  attr->set_atime_nsec(st.stx_atime.tv_nsec);
  attr->set_mtime_nsec(st.stx_mtime.tv_nsec);
  attr->set_ctime_nsec(st.stx_ctime.tv_nsec);
  attr->set_mode(st.stx_mode);
  attr->set_nlink(st.stx_nlink);
  attr->set_uid(config_.uids.ToGuest(st.stx_uid));
  attr->set_gid(config_.gids.ToGuest(st.stx_gid));
  attr->set_rdev(EncodeDev(st.stx_rdev_major, st.stx_rdev_minor));
  attr->set_blksize(st.stx_blksize);
  if (config_.announce_submounts && S_ISDIR(st.stx_mode) && MountId(st) != parent_mnt_id) {
    attr->set_flags(FUSE_ATTR_SUBMOUNT);
  }
}

int FileSystem::EntryForFd(const Inode& parent, UniqueFd& fd, bool is_path, proto::Entry* entry,
                           std::shared_ptr<Inode>* inode_out) {
  struct statx st;
  if (int err = StatFd(fd.get(), st)) return err;
  const InodeKey key{st.stx_ino, makedev(st.stx_dev_major, st.stx_dev_minor), MountId(st)};
  int err = 0;
  const uint64_t id = nodes_.LookupOrInsert(key, [&]() -> std::shared_ptr<Inode> {
    std::optional<FdToken> token = budget_.Take();
    if (!token) {
      err = ENFILE;
      return nullptr;
    }
    if (std::shared_ptr<Inode> node = HandleNode(fd.get(), key, st.stx_mode & S_IFMT, err)) {
      return node;
    }
    if (err != 0) return nullptr;
    // The node keeps an O_PATH fd: the lookup's own, or a new one beside an open file.
    UniqueFd path_fd;
    if (is_path) {
      path_fd = std::move(fd);
    } else {
      path_fd.Reset(openat(proc_self_fd_.get(), FdName(fd.get()).c_str(), O_PATH | O_CLOEXEC));
      if (!path_fd.valid()) {
        err = errno;
        return nullptr;
      }
    }
    return std::make_shared<Inode>(std::move(path_fd), key, st.stx_mode & S_IFMT,
                                   std::move(*token));
  });
  if (id == 0) return err;
  if (inode_out != nullptr) {
    *inode_out = nodes_.Get(id);
    if (*inode_out == nullptr) return ESTALE;  // Forgotten at once by a hostile frontend.
  }
  entry->set_node(id);
  FillAttr(st, parent.key.mnt_id, entry->mutable_attr());
  return 0;
}

std::shared_ptr<Inode> FileSystem::HandleNode(int fd, const InodeKey& key, mode_t type,
                                              int& err) const {
  err = 0;
  if (!mount_fd_.valid() || type == S_IFDIR || key.mnt_id != root_mnt_id_) return nullptr;
  std::string handle(sizeof(file_handle) + MAX_HANDLE_SZ, '\0');
  auto* fh = reinterpret_cast<file_handle*>(handle.data());
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
    if (config_.inode_file_handles == FileHandleMode::kMandatory) err = errno;
    return nullptr;
  }
  handle.resize(sizeof(file_handle) + fh->handle_bytes);
  return std::make_shared<Inode>(UniqueFd(), key, type, FdToken(), std::move(handle));
}

int FileSystem::NodeFd(const Inode& inode, UniqueFd& temp) const {
  if (inode.handle.empty()) return inode.fd.get();
  std::string handle = inode.handle;  // open_by_handle_at() wants it writable.
  {
    ScopedRootFsIds root;
    temp.Reset(open_by_handle_at(mount_fd_.get(), reinterpret_cast<file_handle*>(handle.data()),
                                 O_PATH | O_CLOEXEC));
  }
  return temp.valid() ? temp.get() : -errno;
}

int FileSystem::MakeEntry(const Inode& parent, const char* name, proto::Entry* entry) {
  UniqueFd fd;
  if (int err = opener_.Open(parent.fd.get(), name, O_PATH, 0, fd)) return err;
  return EntryForFd(parent, fd, /*is_path=*/true, entry, nullptr);
}

int FileSystem::Reopen(const Inode& inode, int flags, UniqueFd& out) const {
  if (inode.type == S_IFDIR) {
    // Through the magic link, as open(2) of a path would: read permission on the
    // directory itself suffices (opening "." beneath it would need search too).
    out.Reset(openat(proc_self_fd_.get(), FdName(inode.fd.get()).c_str(),
                     (flags & ~O_ACCMODE) | O_DIRECTORY | O_CLOEXEC));
  } else if (inode.type == S_IFREG) {
    UniqueFd temp;
    const int fd = NodeFd(inode, temp);
    if (fd < 0) return -fd;
    out.Reset(openat(proc_self_fd_.get(), FdName(fd).c_str(), flags | O_CLOEXEC | O_NOCTTY));
  } else {
    return EACCES;  // Device nodes, fifos, sockets, symlinks: never opened.
  }
  return out.valid() ? 0 : errno;
}

int FileSystem::GuestOpenFlags(uint32_t guest) const {
  int flags = static_cast<int>(guest);
  if ((flags & O_ACCMODE) == O_ACCMODE) return -EINVAL;
  int allowed = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_TRUNC | O_LARGEFILE;
  if (config_.allow_direct_io) allowed |= O_DIRECT;
  if (config_.preserve_noatime) allowed |= O_NOATIME;
  flags &= allowed;
  if (config_.writeback) {
    // The guest's page cache may read from a file the guest opened write-only, and
    // writes back at offsets it chose itself.
    flags &= ~O_APPEND;
    if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  }
  return flags;
}

int FileSystem::AddFileHandle(UniqueFd fd, std::shared_ptr<Inode> inode, Response& response,
                              uint64_t& handle_id) {
  std::optional<FdToken> token = budget_.Take();
  if (!token) return ENFILE;
  response.handle = std::make_shared<OpenHandle>(std::move(fd), std::move(inode),
                                                 /*is_dir=*/false, std::move(*token));
  handle_id = handles_.Add(response.handle);
  return 0;
}

int FileSystem::ClearMappedCapability(const Inode& inode) const {
  if (!mapped_capability_) return 0;
  // As the kernel clears security.capability itself when a file is written,
  // truncated or chowned: our remapped copy would otherwise survive (CVE-2021-20263).
  UniqueFd temp;
  const int fd = NodeFd(inode, temp);
  if (fd < 0) return -fd;
  if (int err = EnterProcSelfFd()) return err;
  if (removexattr(FdName(fd).c_str(), mapped_capability_->c_str()) < 0 && errno != ENODATA) {
    const int err = errno;
    // A name we may not even read (trusted.* without CAP_SYS_ADMIN) was never set
    // through us either: only one that is there is worth failing the write for.
    return getxattr(FdName(fd).c_str(), mapped_capability_->c_str(), nullptr, 0) < 0 ? 0 : err;
  }
  return 0;
}

// --- Handlers ----------------------------------------------------------------------

int FileSystem::Lookup(const proto::Request& request, Response& response) {
  const proto::LookupRequest& r = request.lookup();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  return MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int FileSystem::Forget(const proto::Request& request, Response&) {
  nodes_.Forget(request.forget().node(), request.forget().nlookup());
  return 0;
}

int FileSystem::BatchForget(const proto::Request& request, Response&) {
  for (const proto::ForgetRequest& forget : request.batch_forget().forgets()) {
    nodes_.Forget(forget.node(), forget.nlookup());
  }
  return 0;
}

int FileSystem::Destroy(const proto::Request&, Response& response) {
  handles_.RemoveAll();
  nodes_.ForgetAll();
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Getattr(const proto::Request& request, Response& response) {
  const proto::GetattrRequest& r = request.getattr();
  struct statx st;
  if (r.handle() != 0) {
    std::shared_ptr<OpenHandle> handle;
    if (int err = GetFile(r.handle(), handle)) return err;
    if (int err = StatFd(handle->fd.get(), st)) return err;
  } else {
    std::shared_ptr<Inode> inode;
    if (int err = GetNode(r.node(), inode)) return err;
    UniqueFd inode_temp;
    const int inode_fd = NodeFd(*inode, inode_temp);
    if (inode_fd < 0) return -inode_fd;
    if (int err = StatFd(inode_fd, st)) return err;
  }
  FillAttr(st, MountId(st), response.reply.mutable_attr()->mutable_attr());
  return 0;
}

int FileSystem::Setattr(const proto::Request& request, Response& response) {
  const proto::SetattrRequest& r = request.setattr();
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  std::shared_ptr<OpenHandle> handle;
  if (r.valid() & FATTR_FH) {
    if (int err = GetFile(r.handle(), handle)) return err;
  }
  const int fd = handle ? handle->fd.get() : -1;
  const std::string proc_name = FdName(inode_fd);
  std::optional<ScopedCapability> kill_suidgid;
  if (config_.killpriv_v2 && (r.valid() & FATTR_KILL_SUIDGID)) {
    kill_suidgid.emplace(CAP_FSETID, false);
  }
  const uid_t caller = request.caller().uid();
  struct statx before;
  if (int err = StatFd(inode_fd, before)) return err;

  if (r.kill_priv()) {
    // Before a write through `handle` (see OpenReply.kill_priv_on_write).
    if (!handle || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) return EBADF;
    if (int err = ClearMappedCapability(*inode)) return err;
  }
  if (r.valid() & FATTR_MODE) {
    const mode_t mode = r.mode() & 07777;
    // The guest kernel clears set-id bits after a write or truncate by someone
    // who is not the owner with a chmod of its own (FATTR_MODE without the bits):
    // Linux lets any writer lose them, so the host must too.
    const mode_t old_mode = before.stx_mode & 07777;
    const bool only_kills_setid =
        mode != old_mode && (mode | (old_mode & (S_ISUID | S_ISGID))) == old_mode;
    std::optional<ScopedCapability> fowner, fsetid;
    if (caller != 0 && only_kills_setid) fowner.emplace(CAP_FOWNER, true);
    // An owner's S_ISGID: the guest kernel already cleared it unless the caller
    // is in the file's group, which only it can tell.
    if (caller != 0 && before.stx_uid == caller) fsetid.emplace(CAP_FSETID, true);
    if (fd >= 0) {
      if (fchmod(fd, mode) < 0) return errno;
    } else if (inode->type == S_IFLNK) {
      return EOPNOTSUPP;  // Linux has no mode on symlinks (fchmodat2 says so too).
    } else if (fchmodat(proc_self_fd_.get(), proc_name.c_str(), mode, 0) < 0) {
      return errno;
    }
  }
  if (r.valid() & (FATTR_UID | FATTR_GID)) {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (r.valid() & FATTR_UID) {
      std::optional<uint32_t> host = config_.uids.ToHost(r.uid());
      if (!host) return EPERM;  // forbid-guest
      uid = *host;
    }
    if (r.valid() & FATTR_GID) {
      std::optional<uint32_t> host = config_.gids.ToHost(r.gid());
      if (!host) return EPERM;
      gid = *host;
    }
    // An owner may give its file to any group it belongs to; the guest kernel
    // checked that against all of the caller's groups, which the host cannot.
    std::optional<ScopedCapability> chown_cap;
    if (caller != 0 && before.stx_uid == caller &&
        (uid == static_cast<uid_t>(-1) || uid == caller)) {
      chown_cap.emplace(CAP_CHOWN, true);
    }
    if (fchownat(inode_fd, "", uid, gid, kAtEmptyNoFollow) < 0) return errno;
    ClearMappedCapability(*inode);
  }
  if (r.valid() & FATTR_SIZE) {
    if (r.size() > INT64_MAX) return EINVAL;
    if (fd >= 0) {
      if (ftruncate(fd, static_cast<off_t>(r.size())) < 0) return errno;
    } else {
      if (inode->type == S_IFDIR) return EISDIR;
      if (inode->type != S_IFREG) return EINVAL;
      UniqueFd file;
      if (int err = Reopen(*inode, O_WRONLY | O_NONBLOCK, file)) return err;
      if (ftruncate(file.get(), static_cast<off_t>(r.size())) < 0) return errno;
    }
    ClearMappedCapability(*inode);
  }
  if (r.valid() & (FATTR_ATIME | FATTR_MTIME)) {
    struct timespec times[2];
    times[0].tv_sec = r.atime();
    times[0].tv_nsec = (r.valid() & FATTR_ATIME_NOW) ? UTIME_NOW : r.atime_nsec();
    if (!(r.valid() & FATTR_ATIME)) times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = r.mtime();
    times[1].tv_nsec = (r.valid() & FATTR_MTIME_NOW) ? UTIME_NOW : r.mtime_nsec();
    if (!(r.valid() & FATTR_MTIME)) times[1].tv_nsec = UTIME_OMIT;
    const int result =
        fd >= 0 ? futimens(fd, times) : utimensat(inode_fd, "", times, kAtEmptyNoFollow);
    if (result < 0) return errno;
  }
  struct statx st;
  if (int err = StatFd(inode_fd, st)) return err;
  FillAttr(st, MountId(st), response.reply.mutable_attr()->mutable_attr());
  return 0;
}

int FileSystem::Readlink(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(request.readlink().node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  if (inode->type != S_IFLNK) return EINVAL;
  std::string target(PATH_MAX, '\0');
  const ssize_t n = readlinkat(inode_fd, "", target.data(), target.size());
  if (n < 0) return errno;
  target.resize(n);
  response.reply.mutable_readlink()->set_target(std::move(target));
  return 0;
}

int FileSystem::Symlink(const proto::Request& request, Response& response) {
  const proto::SymlinkRequest& r = request.symlink();
  if (int err = CheckEntryName(r.name())) return err;
  if (int err = CheckSymlinkTarget(r.target())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  if (symlinkat(r.target().c_str(), parent->fd.get(), r.name().c_str()) < 0) return errno;
  return MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int FileSystem::Mknod(const proto::Request& request, Response& response) {
  const proto::MknodRequest& r = request.mknod();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  const mode_t mode = r.mode() & (S_IFMT | 07777);
  std::optional<ScopedCapability> keep_setgid;
  if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
  if (mknodat(parent->fd.get(), r.name().c_str(), mode, DecodeDev(r.rdev())) < 0) return errno;
  return MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int FileSystem::Mkdir(const proto::Request& request, Response& response) {
  const proto::MkdirRequest& r = request.mkdir();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  if (mkdirat(parent->fd.get(), r.name().c_str(), r.mode() & 07777) < 0) return errno;
  return MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int FileSystem::Unlink(const proto::Request& request, Response& response) {
  const proto::UnlinkRequest& r = request.unlink();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  if (unlinkat(parent->fd.get(), r.name().c_str(), 0) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Rmdir(const proto::Request& request, Response& response) {
  const proto::RmdirRequest& r = request.rmdir();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  if (unlinkat(parent->fd.get(), r.name().c_str(), AT_REMOVEDIR) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Rename(const proto::Request& request, Response& response) {
  const proto::RenameRequest& r = request.rename();
  if (r.flags() & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return EINVAL;
  if (int err = CheckEntryName(r.old_name())) return err;
  if (int err = CheckEntryName(r.new_name())) return err;
  std::shared_ptr<Inode> old_parent, new_parent;
  if (int err = GetDir(r.old_parent(), old_parent)) return err;
  if (int err = GetDir(r.new_parent(), new_parent)) return err;
  if (syscall(SYS_renameat2, old_parent->fd.get(), r.old_name().c_str(), new_parent->fd.get(),
              r.new_name().c_str(), r.flags()) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Link(const proto::Request& request, Response& response) {
  const proto::LinkRequest& r = request.link();
  if (int err = CheckEntryName(r.new_name())) return err;
  std::shared_ptr<Inode> inode, parent;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  if (int err = GetDir(r.new_parent(), parent)) return err;
  if (inode->type == S_IFDIR) return EPERM;  // As link(2) says for directories.
  // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link does not.
  if (linkat(proc_self_fd_.get(), FdName(inode_fd).c_str(), parent->fd.get(), r.new_name().c_str(),
             AT_SYMLINK_FOLLOW) < 0) {
    return errno;
  }
  return MakeEntry(*parent, r.new_name().c_str(), response.reply.mutable_entry());
}

int FileSystem::Open(const proto::Request& request, Response& response) {
  const proto::OpenRequest& r = request.open();
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  if (inode->type == S_IFDIR) return EISDIR;
  if (inode->type != S_IFREG) return EACCES;  // CVE-2020-35517: no device, fifo, socket.
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  const bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (config_.readonly && writes) return EROFS;
  std::optional<ScopedCapability> kill_suidgid;
  if (config_.killpriv_v2 && (r.open_flags() & FUSE_OPEN_KILL_SUIDGID)) {
    kill_suidgid.emplace(CAP_FSETID, false);
  }
  UniqueFd fd;
  if (int err = Reopen(*inode, flags, fd)) return err;
  // A writer asks again before its first write if the capability stayed.
  const bool capability_stays = writes && ClearMappedCapability(*inode) != 0;
  uint64_t handle_id;
  if (int err = AddFileHandle(std::move(fd), inode, response, handle_id)) return err;
  response.reply.mutable_open()->set_handle(handle_id);
  response.reply.mutable_open()->set_kill_priv_on_write(capability_stays);
  return 0;
}

int FileSystem::Create(const proto::Request& request, Response& response) {
  const proto::CreateRequest& r = request.create();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  UniqueFd fd;
  int err;
  {
    // Only while creating: truncating an existing file must clear set-id bits.
    std::optional<ScopedCapability> keep_setgid;
    if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
    err = opener_.Open(parent->fd.get(), r.name().c_str(), flags | O_CREAT | O_EXCL,
                       r.mode() & 07777, fd);
  }
  if (err == EEXIST && !(r.flags() & O_EXCL)) {
    // An existing entry: open it only if it is a regular file (never a fifo or a
    // device a racing guest process put there).
    UniqueFd path_fd;
    if ((err = opener_.Open(parent->fd.get(), r.name().c_str(), O_PATH, 0, path_fd))) return err;
    struct statx st;
    if ((err = StatFd(path_fd.get(), st))) return err;
    if (S_ISDIR(st.stx_mode)) return EISDIR;
    if (!S_ISREG(st.stx_mode)) return S_ISLNK(st.stx_mode) ? ELOOP : EACCES;
    fd.Reset(
        openat(proc_self_fd_.get(), FdName(path_fd.get()).c_str(), flags | O_CLOEXEC | O_NOCTTY));
    err = fd.valid() ? 0 : errno;
  }
  if (err) return err;
  proto::CreateReply* reply = response.reply.mutable_create();
  std::shared_ptr<Inode> inode;
  if ((err = EntryForFd(*parent, fd, /*is_path=*/false, reply->mutable_entry(), &inode))) {
    return err;
  }
  // An existing file opened for writing: as OPEN does.
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
    reply->set_kill_priv_on_write(ClearMappedCapability(*inode) != 0);
  }
  uint64_t handle_id;
  if ((err = AddFileHandle(std::move(fd), inode, response, handle_id))) {
    nodes_.Forget(reply->entry().node(), 1);
    return err;
  }
  reply->set_handle(handle_id);
  return 0;
}

int FileSystem::Tmpfile(const proto::Request& request, Response& response) {
  const proto::TmpfileRequest& r = request.tmpfile();
  std::shared_ptr<Inode> parent;
  if (int err = GetDir(r.parent(), parent)) return err;
  const int flags = GuestOpenFlags(r.flags());
  if (flags < 0) return -flags;
  UniqueFd fd;
  {
    std::optional<ScopedCapability> keep_setgid;
    if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
    if (int err = opener_.Open(parent->fd.get(), ".", flags | O_TMPFILE, r.mode() & 07777, fd)) {
      return err;
    }
  }
  proto::CreateReply* reply = response.reply.mutable_create();
  std::shared_ptr<Inode> inode;
  if (int err = EntryForFd(*parent, fd, /*is_path=*/false, reply->mutable_entry(), &inode)) {
    return err;
  }
  uint64_t handle_id;
  if (int err = AddFileHandle(std::move(fd), inode, response, handle_id)) {
    nodes_.Forget(reply->entry().node(), 1);
    return err;
  }
  reply->set_handle(handle_id);
  return 0;
}

int FileSystem::Release(const proto::Request& request, Response& response) {
  const proto::ReleaseRequest& r = request.release();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  handles_.Remove(r.handle());
  if (r.release_flags() & FUSE_RELEASE_FLOCK_UNLOCK) flock(handle->fd.get(), LOCK_UN);
  if (r.release_flags() & FUSE_RELEASE_FLUSH) {
    absl::MutexLock lock(&handle->inode->lock_mu);
    handle->inode->lock_fds.erase(r.lock_owner());
  }
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Flush(const proto::Request& request, Response& response) {
  const proto::FlushRequest& r = request.flush();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
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

int FileSystem::Fsync(const proto::Request& request, Response& response) {
  const proto::FsyncRequest& r = request.fsync();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  if ((r.datasync() ? fdatasync(handle->fd.get()) : fsync(handle->fd.get())) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Opendir(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = GetDir(request.opendir().node(), inode)) return err;
  std::optional<FdToken> token = budget_.Take();
  if (!token) return ENFILE;
  UniqueFd fd;
  if (int err = Reopen(*inode, O_RDONLY, fd)) return err;
  auto handle = std::make_shared<OpenHandle>(std::move(fd), std::move(inode),
                                             /*is_dir=*/true, std::move(*token));
  response.reply.mutable_opendir()->set_handle(handles_.Add(std::move(handle)));
  return 0;
}

int FileSystem::Readdir(const proto::Request& request, Response& response) {
  const proto::ReaddirRequest& r = request.readdir();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetDirHandle(r.handle(), handle)) return err;
  if (r.offset() > INT64_MAX) return EINVAL;
  proto::ReaddirReply* reply = response.reply.mutable_readdir();
  const bool is_root = handle->inode == nodes_.Get(NodeTable::kRootId);
  // Bounded by what a frame can carry (a direntplus is larger on the wire than here).
  const size_t max_bytes = std::min<size_t>(r.max_bytes(), 64 * 1024);

  absl::MutexLock lock(&handle->dir_mu);
  const int fd = handle->fd.get();
  if (lseek(fd, static_cast<off_t>(r.offset()), SEEK_SET) < 0) return errno;
  std::vector<char> buffer(std::max<size_t>(max_bytes, 1024));
  size_t used = 0;
  while (true) {
    const long n = syscall(SYS_getdents64, fd, buffer.data(), buffer.size());
    if (n < 0) return errno;
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buffer.data() + pos);
      pos += d->d_reclen;
      const std::string_view name(d->d_name);
      size_t size = (24 + name.size() + 7) & ~size_t{7};
      if (r.plus()) size += sizeof(fuse_entry_out);
      if (used + size > max_bytes) return 0;
      used += size;
      proto::DirEntry* entry = reply->add_entries();
      entry->set_ino(d->d_ino);
      entry->set_offset(d->d_off);
      entry->set_type(d->d_type);
      entry->set_name(name.data(), name.size());
      const bool dots = name == "." || name == "..";
      // The shared dir's parent is outside the share: do not reveal its inode.
      if (is_root && name == "..") entry->set_ino(handle->inode->key.ino);
      // An entry that vanished since getdents keeps node 0: the guest skips it.
      if (r.plus() && !dots) {
        proto::Entry looked_up;
        if (MakeEntry(*handle->inode, d->d_name, &looked_up) == 0) {
          *entry->mutable_entry() = std::move(looked_up);
        }
      }
    }
  }
  return 0;
}

int FileSystem::Releasedir(const proto::Request& request, Response& response) {
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetDirHandle(request.releasedir().handle(), handle)) return err;
  handles_.Remove(request.releasedir().handle());
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Fsyncdir(const proto::Request& request, Response& response) {
  const proto::FsyncdirRequest& r = request.fsyncdir();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetDirHandle(r.handle(), handle)) return err;
  if ((r.datasync() ? fdatasync(handle->fd.get()) : fsync(handle->fd.get())) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Statfs(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(request.statfs().node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  struct statfs st;
  if (fstatfs(inode_fd, &st) < 0) return errno;
  proto::StatfsReply* reply = response.reply.mutable_statfs();
  reply->set_blocks(st.f_blocks);
  reply->set_bfree(st.f_bfree);
  reply->set_bavail(st.f_bavail);
  reply->set_files(st.f_files);
  reply->set_ffree(st.f_ffree);
  reply->set_bsize(st.f_bsize);
  reply->set_namelen(st.f_namelen);
  reply->set_frsize(st.f_frsize);
  return 0;
}

int FileSystem::Access(const proto::Request& request, Response& response) {
  const proto::AccessRequest& r = request.access();
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  if (r.mask() & ~static_cast<uint32_t>(R_OK | W_OK | X_OK)) return EINVAL;
  // Guests that check permissions themselves never ask; those that ask get the
  // host's answer for the caller's uid/gid (no supplementary groups).
  ScopedCapability no_override(CAP_DAC_OVERRIDE, false);
  // AT_EACCESS: check as the fsuid/fsgid this thread acts with.
  if (syscall(SYS_faccessat2, inode_fd, "", r.mask(), AT_EMPTY_PATH | AT_EACCESS) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::EnterProcSelfFd() const { return fchdir(proc_self_fd_.get()) < 0 ? errno : 0; }

int FileSystem::HostXattrName(const std::string& guest_name, std::string& host_name) const {
  if (!config_.xattr) return ENOSYS;  // The guest stops asking.
  if (int err = CheckXattrName(guest_name)) return err;
  if (!config_.posix_acl && (guest_name == kAclAccess || guest_name == kAclDefault)) {
    return EOPNOTSUPP;
  }
  if (!config_.xattrmap) {
    host_name = guest_name;
    return 0;
  }
  std::optional<std::string> mapped = config_.xattrmap->ToHost(guest_name);
  if (!mapped) return EPERM;
  host_name = std::move(*mapped);
  return CheckXattrName(host_name);
}

bool FileSystem::IsTranslatedAcl(const std::string& guest_name) const {
  return (guest_name == kAclAccess || guest_name == kAclDefault) &&
         !(config_.uids.empty() && config_.gids.empty());
}

int FileSystem::CallerToHost(proto::Caller& caller) const {
  std::optional<uint32_t> uid = config_.uids.ToHost(caller.uid());
  std::optional<uint32_t> gid = config_.gids.ToHost(caller.gid());
  if (!uid || !gid) return EPERM;  // forbid-guest (Rust: PermissionDenied)
  caller.set_uid(*uid);
  caller.set_gid(*gid);
  return 0;
}

int FileSystem::CheckCapabilityXattr(const proto::Request& request,
                                     const std::string& host_name) const {
  // Setting or removing a file capability needs CAP_SETFCAP, which only root has;
  // the broker holds it for every caller, and a remapped name is an ordinary xattr.
  const std::string& guest_name =
      request.has_setxattr() ? request.setxattr().name() : request.removexattr().name();
  const bool capability = guest_name == kCapabilityXattr || host_name == kCapabilityXattr;
  return capability && request.caller().uid() != 0 ? EPERM : 0;
}

int FileSystem::Setxattr(const proto::Request& request, Response& response) {
  const proto::SetxattrRequest& r = request.setxattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  if (int err = CheckCapabilityXattr(request, name)) return err;
  if (r.flags() & ~static_cast<uint32_t>(XATTR_CREATE | XATTR_REPLACE)) return EINVAL;
  if (r.value().size() > kXattrSizeMax) return E2BIG;
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  std::optional<ScopedCapability> kill_sgid;
  if (r.setxattr_flags() & FUSE_SETXATTR_ACL_KILL_SGID) kill_sgid.emplace(CAP_FSETID, false);
  if (int err = EnterProcSelfFd()) return err;
  const std::string* value = &r.value();
  std::string host_acl;
  if (IsTranslatedAcl(r.name())) {
    host_acl = r.value();
    if (int err = TranslateAclXattr(host_acl, true, config_.uids, config_.gids)) return err;
    value = &host_acl;
  }
  if (setxattr(FdName(inode_fd).c_str(), name.c_str(), value->data(), value->size(),
               static_cast<int>(r.flags())) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Getxattr(const proto::Request& request, Response& response) {
  const proto::GetxattrRequest& r = request.getxattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  std::string value(std::min(r.size(), kXattrSizeMax), '\0');
  if (int err = EnterProcSelfFd()) return err;
  const ssize_t n = getxattr(FdName(inode_fd).c_str(), name.c_str(), value.data(), value.size());
  if (n < 0) return errno;
  proto::XattrReply* reply = response.reply.mutable_xattr();
  reply->set_size(static_cast<uint32_t>(n));
  if (r.size() != 0) {
    value.resize(n);
    // Same size both ways: only the ids change.
    if (IsTranslatedAcl(r.name())) {
      if (int err = TranslateAclXattr(value, false, config_.uids, config_.gids)) return err;
    }
    reply->set_value(std::move(value));
  }
  return 0;
}

int FileSystem::Listxattr(const proto::Request& request, Response& response) {
  const proto::ListxattrRequest& r = request.listxattr();
  if (!config_.xattr) return ENOSYS;
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  if (int err = EnterProcSelfFd()) return err;
  // The whole host list: mapping changes names and sizes.
  std::string list(kXattrSizeMax, '\0');
  const ssize_t n = listxattr(FdName(inode_fd).c_str(), list.data(), list.size());
  if (n < 0) return errno;
  list.resize(n);
  std::string guest_list;
  for (size_t pos = 0; pos < list.size();) {
    const std::string host_name(list.c_str() + pos);
    pos += host_name.size() + 1;
    std::optional<std::string> name = host_name;
    if (config_.xattrmap) name = config_.xattrmap->ToGuest(host_name);
    if (!name) continue;
    if (!config_.posix_acl && (*name == kAclAccess || *name == kAclDefault)) continue;
    guest_list.append(*name);
    guest_list.push_back('\0');
  }
  proto::XattrReply* reply = response.reply.mutable_xattr();
  reply->set_size(static_cast<uint32_t>(guest_list.size()));
  if (r.size() != 0) {
    if (guest_list.size() > r.size()) return ERANGE;
    reply->set_value(std::move(guest_list));
  }
  return 0;
}

int FileSystem::Removexattr(const proto::Request& request, Response& response) {
  const proto::RemovexattrRequest& r = request.removexattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  if (int err = CheckCapabilityXattr(request, name)) return err;
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(r.node(), inode)) return err;
  UniqueFd inode_temp;
  const int inode_fd = NodeFd(*inode, inode_temp);
  if (inode_fd < 0) return -inode_fd;
  if (int err = EnterProcSelfFd()) return err;
  if (removexattr(FdName(inode_fd).c_str(), name.c_str()) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Fallocate(const proto::Request& request, Response& response) {
  const proto::FallocateRequest& r = request.fallocate();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  constexpr uint32_t kAllowed = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
                                FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
                                FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
  if (r.mode() & ~kAllowed) return EOPNOTSUPP;
  if (int err = ClearMappedCapability(*handle->inode)) return err;
  // Offsets beyond INT64_MAX turn negative here, and the kernel says EINVAL.
  if (fallocate(handle->fd.get(), static_cast<int>(r.mode()), static_cast<off_t>(r.offset()),
                static_cast<off_t>(r.length())) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::Lseek(const proto::Request& request, Response& response) {
  const proto::LseekRequest& r = request.lseek();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  if (r.whence() > SEEK_HOLE) return EINVAL;
  const off_t offset = lseek(handle->fd.get(), r.offset(), static_cast<int>(r.whence()));
  if (offset < 0) return errno;
  response.reply.mutable_lseek()->set_offset(offset);
  return 0;
}

int FileSystem::CopyFileRange(const proto::Request& request, Response& response) {
  const proto::CopyFileRangeRequest& r = request.copy_file_range();
  std::shared_ptr<OpenHandle> in, out;
  if (int err = GetFile(r.handle_in(), in)) return err;
  if (int err = GetFile(r.handle_out(), out)) return err;
  if (r.flags() != 0) return EINVAL;
  if (int err = ClearMappedCapability(*out->inode)) return err;
  loff_t offset_in = static_cast<loff_t>(r.offset_in());
  loff_t offset_out = static_cast<loff_t>(r.offset_out());
  const ssize_t n = copy_file_range(in->fd.get(), &offset_in, out->fd.get(), &offset_out,
                                    static_cast<size_t>(r.length()), 0);
  if (n < 0) return errno;
  response.reply.mutable_copy_file_range()->set_size(n);
  return 0;
}

int FileSystem::Syncfs(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = GetNode(request.syncfs().node(), inode)) return err;
  // syncfs() needs an open file of the filesystem; fall back to the share's root.
  UniqueFd fd;
  if (Reopen(*inode, O_RDONLY | O_NONBLOCK, fd) != 0) {
    if (int err = Reopen(*nodes_.Get(NodeTable::kRootId), O_RDONLY, fd)) return err;
  }
  if (syncfs(fd.get()) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int FileSystem::LockFd(const OpenHandle& handle, uint64_t owner, std::shared_ptr<LockFile>& out) {
  Inode& inode = *handle.inode;
  absl::MutexLock lock(&inode.lock_mu);
  auto it = inode.lock_fds.find(owner);
  if (it != inode.lock_fds.end()) {
    out = it->second;
    return 0;
  }
  const int mode = fcntl(handle.fd.get(), F_GETFL);
  if (mode < 0) return errno;
  std::optional<FdToken> token = budget_.Take();
  if (!token) return ENFILE;
  UniqueFd fd;
  if (int err = Reopen(inode, (mode & O_ACCMODE) | O_NONBLOCK, fd)) return err;
  out = std::make_shared<LockFile>(LockFile{std::move(fd), std::move(*token)});
  inode.lock_fds.emplace(owner, out);
  return 0;
}

int FileSystem::Getlk(const proto::Request& request, Response& response) {
  const proto::GetlkRequest& r = request.getlk();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  struct flock fl;
  if (int err = ToFlock(r.lock(), fl)) return err;
  std::shared_ptr<LockFile> file;
  if (int err = LockFd(*handle, r.lock_owner(), file)) return err;
  if (fcntl(file->fd.get(), F_OFD_GETLK, &fl) < 0) return errno;
  proto::FileLock* lock = response.reply.mutable_getlk()->mutable_lock();
  lock->set_type(fl.l_type);
  if (fl.l_type != F_UNLCK) {
    lock->set_start(fl.l_start);
    lock->set_end(fl.l_len == 0 ? INT64_MAX : fl.l_start + fl.l_len - 1);
    lock->set_pid(fl.l_pid > 0 ? fl.l_pid : 0);  // OFD locks have no owning pid.
  }
  return 0;
}

int FileSystem::Setlk(const proto::Request& request, Response& response) {
  const proto::SetlkRequest& r = request.setlk();
  std::shared_ptr<OpenHandle> handle;
  if (int err = GetFile(r.handle(), handle)) return err;
  if (r.flock()) {
    int operation;
    switch (r.lock().type()) {
      case F_RDLCK:
        operation = LOCK_SH;
        break;
      case F_WRLCK:
        operation = LOCK_EX;
        break;
      case F_UNLCK:
        operation = LOCK_UN;
        break;
      default:
        return EINVAL;
    }
    if (r.wait() && operation != LOCK_UN) {
      response.wait = [handle, operation] {
        return flock(handle->fd.get(), operation) < 0 ? errno : 0;
      };
      return kWaitLater;
    }
    if (flock(handle->fd.get(), operation | LOCK_NB) < 0) return errno;
    response.reply.mutable_empty();
    return 0;
  }
  struct flock fl;
  if (int err = ToFlock(r.lock(), fl)) return err;
  std::shared_ptr<LockFile> file;
  if (int err = LockFd(*handle, r.lock_owner(), file)) return err;
  if (r.wait() && fl.l_type != F_UNLCK) {
    response.wait = [file, fl]() mutable {
      return fcntl(file->fd.get(), F_OFD_SETLKW, &fl) < 0 ? errno : 0;
    };
    return kWaitLater;
  }
  if (fcntl(file->fd.get(), F_OFD_SETLK, &fl) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

}  // namespace virtiofsd
