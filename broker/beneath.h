// Opens one directory entry beneath a directory fd the broker holds, never
// following a symlink and never leaving that directory: openat2() with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS when the kernel
// has it (probed once), else openat() with O_NOFOLLOW, which is as safe for a
// single component (the caller checked the name with CheckEntryName()).
//
// Every fd opened here is O_CLOEXEC | O_NOFOLLOW. With O_PATH a symlink itself
// is opened; otherwise a symlink gives ELOOP.

#ifndef VIRTIOFSD_BROKER_BENEATH_H_
#define VIRTIOFSD_BROKER_BENEATH_H_

#include <sys/types.h>

#include "common/unique_fd.h"

namespace virtiofsd {

class BeneathOpener {
 public:
  // Asks the kernel whether openat2() works (ENOSYS on kernels before 5.6, or a
  // seccomp policy that hides it).
  static BeneathOpener Probe();
  explicit BeneathOpener(bool use_openat2) : use_openat2_(use_openat2) {}

  // Opens `name` in `dirfd`. Returns 0 and sets `out`, or the errno.
  int Open(int dirfd, const char* name, int flags, mode_t mode, UniqueFd& out) const;

  bool uses_openat2() const { return use_openat2_; }

 private:
  bool use_openat2_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_BENEATH_H_
