#include "broker/nofile_limit.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace virtiofsd {

uint64_t NofileTarget(uint64_t requested, uint64_t file_max) {
  constexpr uint64_t kDefault = 1'000'000;
  constexpr uint64_t kHostReserve = 16384;
  const uint64_t cap = file_max > 2 * kHostReserve ? file_max - kHostReserve : file_max / 2;
  return std::max<uint64_t>(std::min(requested == 0 ? kDefault : requested, cap), 1);
}

absl::StatusOr<uint64_t> RaiseNofileLimit(uint64_t requested) {
  UniqueFd fd(open("/proc/sys/fs/file-max", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "open /proc/sys/fs/file-max");
  char buf[32] = {};
  const ssize_t n = read(fd.get(), buf, sizeof(buf) - 1);
  uint64_t file_max = 0;
  if (n <= 0 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(std::string(buf, n)), &file_max)) {
    return absl::InternalError("cannot read fs.file-max");
  }
  const uint64_t target = NofileTarget(requested, file_max);
  rlimit limit = {target, target};
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) return target;
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0) return ErrnoError(errno, "getrlimit");
  limit.rlim_cur = std::min<uint64_t>(target, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) < 0) return ErrnoError(errno, "setrlimit");
  if (limit.rlim_cur < target) {
    VFSD_LOG(kWarn,
             "RLIMIT_NOFILE is %d, below the %d asked for (the hard limit is %d): about that "
             "many guest inodes and open files fit before requests fail with ENFILE; raise "
             "the hard limit (LimitNOFILE= in a systemd unit), or use --inode-file-handles "
             "where the share is a filesystem root",
             limit.rlim_cur, target, limit.rlim_max);
  }
  return limit.rlim_cur;
}

}  // namespace virtiofsd
