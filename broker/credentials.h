// The identity a request runs with, per thread: fsuid/fsgid switched to the
// guest caller's (supplementary groups were dropped at start, CVE-2022-0358), the
// caller's umask (each serving thread has its own fs struct via
// unshare(CLONE_FS)), and the capabilities that go with the caller.
//
// Permission model (broker/README.md): the guest kernel has already checked each
// request against all of the caller's groups, which FUSE does not carry. So for a
// caller other than root the thread keeps CAP_DAC_OVERRIDE (read/write/search
// granted through a supplementary group would otherwise be refused), while every
// rule that depends on ownership or privilege stays the host kernel's: Linux
// drops the other file-system capabilities (CAP_CHOWN, CAP_FOWNER, CAP_FSETID,
// CAP_MKNOD, ...) while fsuid is not 0, and CAP_SETFCAP is dropped here too. A
// handler raises one of them (ScopedCapability) only where the guest kernel's
// decision rests on facts the host cannot see.

#ifndef VIRTIOFSD_BROKER_CREDENTIALS_H_
#define VIRTIOFSD_BROKER_CREDENTIALS_H_

#include <stdint.h>
#include <sys/types.h>

namespace virtiofsd {

// One serving thread's current identity; switches only when a request differs.
// Not thread-safe: each thread owns one.
class ThreadCredentials {
 public:
  // Reads the thread's current fsuid/fsgid/umask and capability sets.
  ThreadCredentials();

  // Makes this thread act as uid/gid with `umask`, with the capabilities of that
  // caller (above). Returns 0, EINVAL for the ids that mean "unchanged" to the
  // kernel ((uid_t)-1), or EPERM when the kernel refused (e.g. the id is not
  // mapped in our user namespace).
  int SwitchTo(uid_t uid, gid_t gid, mode_t umask);

 private:
  uid_t uid_;
  gid_t gid_;
  mode_t umask_;
  uint32_t permitted_;  // Capabilities 0-31 this thread may make effective.
};

// Gives this thread its own umask/cwd/root (unshare(CLONE_FS)). Returns errno.
int UnshareThreadFs();

// While alive, this thread's fsuid/fsgid are 0, so its file-system capabilities
// are effective again (open_by_handle_at needs CAP_DAC_READ_SEARCH). For O_PATH
// opens only, which grant no access. Restores the ids and the effective set.
class ScopedRootFsIds {
 public:
  ScopedRootFsIds();
  ~ScopedRootFsIds();
  ScopedRootFsIds(const ScopedRootFsIds&) = delete;
  ScopedRootFsIds& operator=(const ScopedRootFsIds&) = delete;

 private:
  uid_t uid_;
  gid_t gid_;
  uint32_t effective_;
};

// While alive, capability `cap` (0-31) is effective on this thread (`effective`
// true; only if it is permitted) or not (false). Restores the previous state.
class ScopedCapability {
 public:
  ScopedCapability(int cap, bool effective);
  ~ScopedCapability();
  ScopedCapability(const ScopedCapability&) = delete;
  ScopedCapability& operator=(const ScopedCapability&) = delete;

 private:
  uint32_t previous_ = 0;
  bool changed_ = false;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_CREDENTIALS_H_
