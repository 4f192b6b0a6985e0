// The identity a request runs with, per thread: fsuid/fsgid switched to the
// guest caller's (supplementary groups were dropped at start, CVE-2022-0358), the
// caller's umask (each serving thread has its own fs struct via
// unshare(CLONE_FS)), and CAP_FSETID dropped for the guest's "kill suid/sgid"
// requests so the kernel clears those bits as it would for an unprivileged writer.
//
// Linux drops the effective file-system capabilities while fsuid is not 0 and
// restores them when it is 0 again, so permission checks are the kernel's own.

#ifndef VIRTIOFSD_BROKER_CREDENTIALS_H_
#define VIRTIOFSD_BROKER_CREDENTIALS_H_

#include <sys/types.h>

namespace virtiofsd {

// One serving thread's current identity; switches only when a request differs.
// Not thread-safe: each thread owns one.
class ThreadCredentials {
 public:
  // Reads the thread's current fsuid/fsgid/umask.
  ThreadCredentials();

  // Makes this thread act as uid/gid with `umask`. Returns 0, EINVAL for the ids
  // that mean "unchanged" to the kernel ((uid_t)-1), or EPERM when the kernel
  // refused (e.g. the id is not mapped in our user namespace).
  int SwitchTo(uid_t uid, gid_t gid, mode_t umask);

 private:
  uid_t uid_;
  gid_t gid_;
  mode_t umask_;
};

// Gives this thread its own umask/cwd/root (unshare(CLONE_FS)). Returns errno.
int UnshareThreadFs();

// While alive, this thread's fsuid/fsgid are 0, so its file-system capabilities
// are effective again (open_by_handle_at needs CAP_DAC_READ_SEARCH). For O_PATH
// opens only, which grant no access.
class ScopedRootFsIds {
 public:
  ScopedRootFsIds();
  ~ScopedRootFsIds();
  ScopedRootFsIds(const ScopedRootFsIds&) = delete;
  ScopedRootFsIds& operator=(const ScopedRootFsIds&) = delete;

 private:
  uid_t uid_;
  gid_t gid_;
};

// While alive, CAP_FSETID is not effective on this thread. No-op when it was not.
class ScopedDropFsetid {
 public:
  ScopedDropFsetid();
  ~ScopedDropFsetid();
  ScopedDropFsetid(const ScopedDropFsetid&) = delete;
  ScopedDropFsetid& operator=(const ScopedDropFsetid&) = delete;

 private:
  bool dropped_ = false;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_CREDENTIALS_H_
