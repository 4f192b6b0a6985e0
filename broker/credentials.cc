#include "broker/credentials.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace virtiofsd {
namespace {

constexpr uint32_t Bit(int cap) { return uint32_t{1} << cap; }

// What the kernel drops from the effective set when fsuid leaves 0 (CAP_FS_MASK;
// its CAP_MAC_OVERRIDE, beyond 31, the kernel alone handles), plus CAP_SETFCAP,
// which only root may use on a file (security.capability).
constexpr uint32_t kRootOnly = Bit(CAP_CHOWN) | Bit(CAP_DAC_OVERRIDE) | Bit(CAP_DAC_READ_SEARCH) |
                               Bit(CAP_FOWNER) | Bit(CAP_FSETID) | Bit(CAP_LINUX_IMMUTABLE) |
                               Bit(CAP_MKNOD) | Bit(CAP_SETFCAP);
// Checked by the guest kernel against all of the caller's groups.
constexpr uint32_t kGuestChecked = Bit(CAP_DAC_OVERRIDE);

// setfsuid/setfsgid return the previous id and never fail visibly: a second
// call with an id that is not a valid change returns the current one.
uid_t CurrentFsuid() { return static_cast<uid_t>(syscall(SYS_setfsuid, -1)); }
gid_t CurrentFsgid() { return static_cast<gid_t>(syscall(SYS_setfsgid, -1)); }

// Capabilities 0-31 of this thread (every one the broker uses is below 32).
bool ThreadCaps(uint32_t& effective, uint32_t& permitted) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  effective = data[0].effective;
  permitted = data[0].permitted;
  return true;
}

// Sets the effective set (0-31) and keeps the rest as it is.
bool SetEffective(uint32_t effective) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  if (data[0].effective == effective) return true;
  data[0].effective = effective;
  return syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

ThreadCredentials::ThreadCredentials() : uid_(CurrentFsuid()), gid_(CurrentFsgid()) {
  umask_ = umask(0);
  umask(umask_);
  uint32_t effective = 0;
  permitted_ = 0;
  ThreadCaps(effective, permitted_);
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
    // fsuid 0 has every permitted capability; anyone else the non-root set.
    const uint32_t effective = uid == 0 ? permitted_ : permitted_ & (~kRootOnly | kGuestChecked);
    if (!SetEffective(effective)) return EPERM;
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
  uint32_t permitted;
  if (!ThreadCaps(effective_, permitted)) effective_ = 0;
  if (uid_ != 0) syscall(SYS_setfsuid, 0);
  if (gid_ != 0) syscall(SYS_setfsgid, 0);
}

ScopedRootFsIds::~ScopedRootFsIds() {
  if (gid_ != 0) syscall(SYS_setfsgid, gid_);
  if (uid_ != 0) syscall(SYS_setfsuid, uid_);
  // Leaving fsuid 0 dropped every file-system capability, also those the caller had.
  SetEffective(effective_);
}

ScopedCapability::ScopedCapability(int cap, bool effective) {
  uint32_t permitted;
  if (!ThreadCaps(previous_, permitted)) return;
  const uint32_t wanted = effective ? previous_ | (Bit(cap) & permitted) : previous_ & ~Bit(cap);
  if (wanted != previous_) changed_ = SetEffective(wanted);
}

ScopedCapability::~ScopedCapability() {
  if (changed_) SetEffective(previous_);
}

}  // namespace virtiofsd
