#include "broker/inode_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "broker/credentials.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

InodeKey KeyOf(const struct statx& st) {
  return {st.stx_ino, makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_mnt_id};
}

// FUSE carries rdev as the kernel's new_encode_dev() 32-bit value.
uint32_t EncodeDev(uint32_t major, uint32_t minor) {
  return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

}  // namespace

int StatFd(int fd, struct statx& st) {
  return statx(fd, "", kAtEmptyNoFollow | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID,
               &st) == 0
             ? 0
             : errno;
}

std::string FdName(int fd) { return std::to_string(fd); }

int SyncFd(int fd, bool datasync) { return (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0; }

absl::StatusOr<std::unique_ptr<InodeStore>> InodeStore::Create(UniqueFd shared_dir,
                                                               UniqueFd proc_self_fd,
                                                               FsConfig config) {
  UniqueFd root(openat(shared_dir.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(errno, "open shared dir");
  struct statx st;
  if (int err = StatFd(root.get(), st)) return ErrnoError(err, "stat shared dir");
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
  auto inode = std::make_shared<Inode>(std::move(root), KeyOf(st), S_IFDIR, FdToken());
  return std::unique_ptr<InodeStore>(new InodeStore(std::move(inode), std::move(proc_self_fd),
                                                    std::move(mount_fd), std::move(config)));
}

InodeStore::InodeStore(std::shared_ptr<Inode> root, UniqueFd proc_self_fd, UniqueFd mount_fd,
                       FsConfig config)
    : config_(std::move(config)),
      proc_self_fd_(std::move(proc_self_fd)),
      mount_fd_(std::move(mount_fd)),
      root_mnt_id_(root->key.mnt_id),
      opener_(BeneathOpener::Probe()),
      budget_(config_.fd_budget),
      nodes_(std::move(root)) {
  if (config_.xattrmap) mapped_capability_ = config_.xattrmap->ToHost("security.capability");
  if (mapped_capability_ == "security.capability") mapped_capability_.reset();
}

int InodeStore::GetNode(uint64_t id, std::shared_ptr<Inode>& out) const {
  out = nodes_.Get(id);
  return out == nullptr ? ESTALE : 0;
}

int InodeStore::GetDir(uint64_t id, std::shared_ptr<Inode>& out) const {
  if (int err = GetNode(id, out)) return err;
  return out->type == S_IFDIR ? 0 : ENOTDIR;
}

int InodeStore::GetFile(uint64_t id, std::shared_ptr<OpenHandle>& out) const {
  out = handles_.Get(id);
  return out == nullptr || out->is_dir ? EBADF : 0;
}

int InodeStore::GetDirHandle(uint64_t id, std::shared_ptr<OpenHandle>& out) const {
  out = handles_.Get(id);
  return out == nullptr || !out->is_dir ? EBADF : 0;
}

int InodeStore::GetHeldNode(uint64_t id, HeldNode& out) const {
  if (int err = GetNode(id, out.inode)) return err;
  out.fd = NodeFd(*out.inode, out.temp);
  return out.fd < 0 ? -out.fd : 0;
}

void InodeStore::FillAttr(const struct statx& st, uint64_t parent_mnt_id, proto::Attr* attr) const {
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
  if (config_.announce_submounts && S_ISDIR(st.stx_mode) && st.stx_mnt_id != parent_mnt_id) {
    attr->set_flags(proto::ATTR_SUBMOUNT);
  }
}

int InodeStore::EntryForFd(const Inode& parent, UniqueFd& fd, bool is_path, proto::Entry* entry,
                           std::shared_ptr<Inode>* inode_out) {
  struct statx st;
  if (int err = StatFd(fd.get(), st)) return err;
  const InodeKey key = KeyOf(st);
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

std::shared_ptr<Inode> InodeStore::HandleNode(int fd, const InodeKey& key, mode_t type,
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

int InodeStore::NodeFd(const Inode& inode, UniqueFd& temp) const {
  if (inode.handle.empty()) return inode.fd.get();
  std::string handle = inode.handle;  // open_by_handle_at() wants it writable.
  {
    ScopedRootFsIds root;
    temp.Reset(open_by_handle_at(mount_fd_.get(), reinterpret_cast<file_handle*>(handle.data()),
                                 O_PATH | O_CLOEXEC));
  }
  return temp.valid() ? temp.get() : -errno;
}

int InodeStore::MakeEntry(const Inode& parent, const char* name, proto::Entry* entry) {
  UniqueFd fd;
  if (int err = opener_.Open(parent.fd.get(), name, O_PATH, 0, fd)) return err;
  return EntryForFd(parent, fd, /*is_path=*/true, entry, nullptr);
}

int InodeStore::Reopen(const Inode& inode, int flags, UniqueFd& out) const {
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

int InodeStore::AddFileHandle(UniqueFd fd, std::shared_ptr<Inode> inode, Response& response,
                              uint64_t& handle_id) {
  std::optional<FdToken> token = budget_.Take();
  if (!token) return ENFILE;
  response.handle = std::make_shared<OpenHandle>(std::move(fd), std::move(inode),
                                                 /*is_dir=*/false, std::move(*token));
  handle_id = handles_.Add(response.handle);
  return 0;
}

int InodeStore::EnterProcSelfFd() const { return fchdir(proc_self_fd_.get()) < 0 ? errno : 0; }

int InodeStore::ClearMappedCapability(const Inode& inode) const {
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

}  // namespace virtiofsd
