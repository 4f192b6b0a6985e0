// Pure parsing of the user and group id ranges the command line names
// (--uid-map/--gid-map in the launcher, --translate-uid/--translate-gid in the
// broker): one id, and a range [base, base + count) that must fit in 32 bits.
// No syscalls. Errors are kInvalidArgument with a message naming what is wrong.

#ifndef VIRTIOFSD_COMMON_ID_RANGE_H_
#define VIRTIOFSD_COMMON_ID_RANGE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// Plain decimal digits below 2^32 (no sign, no spaces); `what` names the field
// in the error, e.g. "guest id".
absl::StatusOr<uint32_t> ParseIdNumber(absl::string_view text, absl::string_view what);

// OK when count > 0 and base + count <= 2^32; `what` names the range ("host").
absl::Status CheckIdRange(uint32_t base, uint32_t count, absl::string_view what);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_ID_RANGE_H_
