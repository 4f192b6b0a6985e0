#include "broker/credentials.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace virtiofsd {
namespace {

// setfsuid/setfsgid return the previous id and never fail visibly: a second
// call with an id that is not a valid change returns the current one.
uid_t CurrentFsuid() { return static_cast<uid_t>(syscall(SYS_setfsuid, -1)); }
gid_t CurrentFsgid() { return static_cast<gid_t>(syscall(SYS_setfsgid, -1)); }

bool ThreadCaps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, data) == 0;
}

bool SetThreadCaps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

ThreadCredentials::ThreadCredentials() : uid_(CurrentFsuid()), gid_(CurrentFsgid()) {
  umask_ = umask(0);
  umask(umask_);
}

int ThreadCredentials::SwitchTo(uid_t uid, gid_t gid, mode_t mask) {
  if (uid == static_cast<uid_t>(-1) || gid == static_cast<gid_t>(-1)) return EINVAL;
  if (gid != gid_) {
    syscall(SYS_setfsgid, gid);
    gid_ = CurrentFsgid();
    if (gid_ != gid) return EPERM;
  }
  if (uid != uid_) {
    syscall(SYS_setfsuid, uid);
    uid_ = CurrentFsuid();
    if (uid_ != uid) return EPERM;
  }
  mask &= 0777;
  if (mask != umask_) {
    umask(mask);
    umask_ = mask;
  }
  return 0;
}

int UnshareThreadFs() { return unshare(CLONE_FS) == 0 ? 0 : errno; }

ScopedRootFsIds::ScopedRootFsIds() : uid_(CurrentFsuid()), gid_(CurrentFsgid()) {
  if (uid_ != 0) syscall(SYS_setfsuid, 0);
  if (gid_ != 0) syscall(SYS_setfsgid, 0);
}

ScopedRootFsIds::~ScopedRootFsIds() {
  if (gid_ != 0) syscall(SYS_setfsgid, gid_);
  if (uid_ != 0) syscall(SYS_setfsuid, uid_);
}

ScopedDropFsetid::ScopedDropFsetid() {
  __user_cap_data_struct data[2] = {};
  if (!ThreadCaps(data) || (data[0].effective & (1u << CAP_FSETID)) == 0) return;
  data[0].effective &= ~(1u << CAP_FSETID);
  dropped_ = SetThreadCaps(data);
}

ScopedDropFsetid::~ScopedDropFsetid() {
  if (!dropped_) return;
  __user_cap_data_struct data[2] = {};
  if (!ThreadCaps(data)) return;
  data[0].effective |= 1u << CAP_FSETID;
  SetThreadCaps(data);
}

}  // namespace virtiofsd
