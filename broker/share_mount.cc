#include "broker/share_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace virtiofsd {

std::optional<std::string> MountRootInMountinfo(absl::string_view mountinfo, uint64_t mount_id) {
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    uint64_t id = 0;
    if (fields.size() < 5 || !absl::SimpleAtoi(fields[0], &id) || id != mount_id) continue;
    return std::string(fields[3]);
  }
  return std::nullopt;
}

absl::StatusOr<bool> IsFilesystemRoot(int dir_fd) {
  struct statx st = {};
  if (statx(dir_fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) < 0) {
    return ErrnoError(errno, "statx the shared dir");
  }
  if ((st.stx_mask & STATX_MNT_ID) == 0 || (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0) {
    return absl::FailedPreconditionError("the kernel does not tell mount roots (statx)");
  }
  if ((st.stx_attributes & STATX_ATTR_MOUNT_ROOT) == 0) return false;
  UniqueFd fd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "open /proc/self/mountinfo");
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof(buf))) > 0) text.append(buf, n);
  if (n < 0) return ErrnoError(errno, "read /proc/self/mountinfo");
  std::optional<std::string> root = MountRootInMountinfo(text, st.stx_mnt_id);
  if (!root.has_value()) return absl::NotFoundError("the shared dir's mount is not in mountinfo");
  return *root == "/";
}

absl::StatusOr<bool> MountIsNodev(int dir_fd) {
  struct statvfs st;
  if (fstatvfs(dir_fd, &st) < 0) return ErrnoError(errno, "statvfs the shared dir");
  return (st.f_flag & ST_NODEV) != 0;
}

}  // namespace virtiofsd
