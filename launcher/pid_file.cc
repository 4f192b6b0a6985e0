#include "launcher/pid_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {

absl::StatusOr<PidFile> PidFile::Acquire(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    const int error = errno;
    if (error == ENOENT) {
      // The file is created if missing, so what is missing is its directory: the
      // one the user chose for the socket. Name it, not the file we add to it.
      const size_t slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
      return ErrnoError(error, absl::StrCat("directory ", dir.empty() ? "/" : dir,
                                            " of the socket path does not exist"));
    }
    return ErrnoError(error, absl::StrCat("open ", path));
  }
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is locked: another virtiofsd is using this socket path"));
    }
    return ErrnoError(errno, absl::StrCat("flock ", path));
  }
  if (ftruncate(fd.get(), 0) != 0) return ErrnoError(errno, absl::StrCat("truncate ", path));
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return ErrnoError(errno == 0 ? EIO : errno, absl::StrCat("write ", path));
  }
  return PidFile(path, std::move(fd));
}

void PidFile::Remove() {
  if (!fd_) return;
  unlink(path_.c_str());
  fd_.Reset();
}

}  // namespace virtiofsd
