#include "broker/lock_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>

#include "absl/synchronization/mutex.h"

namespace virtiofsd {
namespace {

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

int LockOps::LockFd(const OpenHandle& handle, uint64_t owner, std::shared_ptr<LockFile>& out) {
  Inode& inode = *handle.inode;
  absl::MutexLock lock(&inode.lock_mu);
  auto it = inode.lock_fds.find(owner);
  if (it != inode.lock_fds.end()) {
    out = it->second;
    return 0;
  }
  const int mode = fcntl(handle.fd.get(), F_GETFL);
  if (mode < 0) return errno;
  std::optional<FdToken> token = store_.TakeFdToken();
  if (!token) return ENFILE;
  UniqueFd fd;
  if (int err = store_.Reopen(inode, (mode & O_ACCMODE) | O_NONBLOCK, fd)) return err;
  out = std::make_shared<LockFile>(LockFile{std::move(fd), std::move(*token)});
  inode.lock_fds.emplace(owner, out);
  return 0;
}

int LockOps::Getlk(const proto::Request& request, Response& response) {
  const proto::GetlkRequest& r = request.getlk();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
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

int LockOps::Setlk(const proto::Request& request, Response& response) {
  const proto::SetlkRequest& r = request.setlk();
  std::shared_ptr<OpenHandle> handle;
  if (int err = store_.GetFile(r.handle(), handle)) return err;
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
