#include "broker/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace virtiofsd {

BeneathOpener BeneathOpener::Probe() {
  open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how))));
  return BeneathOpener(fd.valid());
}

int BeneathOpener::Open(int dirfd, const char* name, int flags, mode_t mode, UniqueFd& out) const {
  flags |= O_CLOEXEC | O_NOFOLLOW;
  const bool creating = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  if (!use_openat2_) {
    out.Reset(openat(dirfd, name, flags, creating ? mode : 0));
    return out.valid() ? 0 : errno;
  }
  open_how how = {};
  how.flags = static_cast<uint64_t>(static_cast<unsigned>(flags));
  how.mode = creating ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  // EAGAIN: a concurrent rename or mount made the kernel unsure; retry a little.
  for (int attempt = 0;; ++attempt) {
    out.Reset(static_cast<int>(syscall(SYS_openat2, dirfd, name, &how, sizeof(how))));
    if (out.valid()) return 0;
    if (errno != EAGAIN || attempt == 16) return errno;
  }
}

}  // namespace virtiofsd
