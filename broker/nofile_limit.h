// RLIMIT_NOFILE for the broker: raised so many guest files can be open, but kept
// well below the host's fs.file-max so a guest cannot exhaust the whole host's
// file table (CVE-2020-10717).

#ifndef VIRTIOFSD_BROKER_NOFILE_LIMIT_H_
#define VIRTIOFSD_BROKER_NOFILE_LIMIT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace virtiofsd {

// The limit to ask for: `requested` (0: one million), at most fs.file-max less
// a reserve for the rest of the host (half of file-max when that is small).
uint64_t NofileTarget(uint64_t requested, uint64_t file_max);

// Reads /proc/sys/fs/file-max and sets the soft (and, if allowed, hard) limit to
// NofileTarget(); where raising the hard limit is refused, the soft limit goes as
// far as the hard one, with one warning that names the shortfall. Returns the soft
// limit now in force.
absl::StatusOr<uint64_t> RaiseNofileLimit(uint64_t requested);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_NOFILE_LIMIT_H_
