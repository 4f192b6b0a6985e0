#include "broker/dir_ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace virtiofsd {

std::optional<DirentBudget> DirentBudget::Create(uint32_t max_bytes, uint32_t entry_bytes,
                                                 uint32_t name_alignment) {
  if (entry_bytes == 0 || entry_bytes > kMaxEntryBytes) return std::nullopt;
  if (name_alignment == 0 || name_alignment > kMaxNameAlignment ||
      (name_alignment & (name_alignment - 1)) != 0) {
    return std::nullopt;
  }
  // An aligned fixed part, as FUSE's are: the name's padding is then the entry's.
  if (entry_bytes % name_alignment != 0) return std::nullopt;
  return DirentBudget(std::min(max_bytes, kMaxBytes), entry_bytes, name_alignment);
}

bool DirentBudget::Take(size_t name_size) {
  const size_t size = entry_bytes_ + ((name_size + name_alignment_ - 1) & ~(name_alignment_ - 1));
  if (used_ + size > max_bytes_) return false;
  used_ += size;
  return true;
}

int DirOps::Opendir(const proto::Request& request, Response& response) {
  std::shared_ptr<Inode> inode;
  if (int err = store_.GetDir(request.opendir().node(), inode)) return err;
  std::optional<FdToken> token = store_.TakeFdToken();
  if (!token) return ENFILE;
  UniqueFd fd;
  if (int err = store_.Reopen(*inode, O_RDONLY, fd)) return err;
  auto handle = std::make_shared<OpenHandle>(std::move(fd), std::move(inode),
                                             /*is_dir=*/true, std::move(*token));
  response.reply.mutable_opendir()->set_handle(store_.handles().Add(std::move(handle)));
  return 0;
}

int DirOps::Readdir(const proto::Request& request, Response& response) {
  const proto::ReaddirRequest& r = request.readdir();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetDirHandle(r.handle(), handle)) return err;
  if (r.offset() > INT64_MAX) return EINVAL;
  std::optional<DirentBudget> budget =
      DirentBudget::Create(r.max_bytes(), r.entry_bytes(), r.name_alignment());
  if (!budget) return EINVAL;
  proto::ReaddirReply* reply = response.reply.mutable_readdir();
  const bool is_root = handle->inode == store_.root();

  absl::MutexLock lock(&handle->dir_mu);
  const int fd = handle->fd.get();
  if (lseek(fd, static_cast<off_t>(r.offset()), SEEK_SET) < 0) return errno;
  std::vector<char> buffer(std::max<size_t>(budget->max_bytes(), 1024));
  while (true) {
    const long n = syscall(SYS_getdents64, fd, buffer.data(), buffer.size());
    if (n < 0) return errno;
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buffer.data() + pos);
      pos += d->d_reclen;
      const std::string_view name(d->d_name);
      // The entry does not fit: it is not returned, and no lookup is taken for it.
      if (!budget->Take(name.size())) return 0;
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
        if (store_.MakeEntry(*handle->inode, d->d_name, &looked_up) == 0) {
          *entry->mutable_entry() = std::move(looked_up);
        }
      }
    }
  }
  return 0;
}

int DirOps::Releasedir(const proto::Request& request, Response& response) {
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetDirHandle(request.releasedir().handle(), handle)) return err;
  store_.handles().Remove(request.releasedir().handle());
  response.reply.mutable_empty();
  return 0;
}

int DirOps::Fsyncdir(const proto::Request& request, Response& response) {
  const proto::FsyncdirRequest& r = request.fsyncdir();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetDirHandle(r.handle(), handle)) return err;
  if (int err = SyncFd(handle->fd.get(), r.datasync())) return err;
  response.reply.mutable_empty();
  return 0;
}

}  // namespace virtiofsd
