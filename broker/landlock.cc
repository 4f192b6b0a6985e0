#include "broker/landlock.h"

#include <errno.h>
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "common/status.h"
#include "common/unique_fd.h"

namespace virtiofsd {
namespace {

// The system headers may predate ABI 3; the values are the kernel's ABI.
constexpr uint64_t kTruncate = uint64_t{1} << 14;  // ABI 3.
constexpr uint64_t kIoctlDev = uint64_t{1} << 15;  // ABI 5.
constexpr uint64_t kBindTcp = uint64_t{1} << 0;    // ABI 4, handled_access_net.
constexpr uint64_t kConnectTcp = uint64_t{1} << 1;
constexpr uint64_t kScopeAbstractUnix = uint64_t{1} << 0;  // ABI 6, scoped.
constexpr uint64_t kScopeSignal = uint64_t{1} << 1;

// struct landlock_ruleset_attr as of ABI 6; the kernel takes a prefix of it.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

// Every filesystem right of ABI 1 (execute .. make_sym) and ABI 2 (refer).
constexpr uint64_t kAbi1Fs = (uint64_t{1} << 13) - 1;
constexpr uint64_t kAbi2Fs = kAbi1Fs | (uint64_t{1} << 13);

uint64_t FsRights(int abi) {
  uint64_t rights = abi >= 2 ? kAbi2Fs : kAbi1Fs;
  if (abi >= 3) rights |= kTruncate;
  if (abi >= 5) rights |= kIoctlDev;
  return rights;
}

}  // namespace

int LandlockAbi() {
  const long abi =
      syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

absl::StatusOr<int> RestrictToShare(int share_fd) {
  const int abi = LandlockAbi();
  if (abi == 0) return 0;
  RulesetAttr ruleset = {};
  ruleset.handled_access_fs = FsRights(abi);
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    ruleset.handled_access_net = kBindTcp | kConnectTcp;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    ruleset.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof(ruleset);
  }
  UniqueFd ruleset_fd(static_cast<int>(syscall(SYS_landlock_create_ruleset, &ruleset, size, 0)));
  if (!ruleset_fd.valid()) return ErrnoError(errno, "landlock_create_ruleset");
  // Everything beneath the share; the execute right is not needed (and without it
  // a file in the share cannot be run even by code that gets an exec syscall).
  PathBeneathAttr beneath = {FsRights(abi) & ~uint64_t{LANDLOCK_ACCESS_FS_EXECUTE}, share_fd};
  if (syscall(SYS_landlock_add_rule, ruleset_fd.get(), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) <
      0) {
    return ErrnoError(errno, "landlock_add_rule");
  }
  if (syscall(SYS_landlock_restrict_self, ruleset_fd.get(), 0) < 0) {
    return ErrnoError(errno, "landlock_restrict_self");
  }
  return abi;
}

}  // namespace virtiofsd
