// The capabilities the broker keeps once confined: only those the enabled
// features need (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID, MKNOD,
// SETFCAP), changed by --modcaps ("+sys_admin,-mknod"). Computing the set is pure
// and tested; applying it uses libcap-ng and empties the bounding, inheritable
// and ambient sets too.

#ifndef VIRTIOFSD_BROKER_CAPABILITIES_H_
#define VIRTIOFSD_BROKER_CAPABILITIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace virtiofsd {

// The set as a bit mask (bit N = capability N, as /proc/PID/status shows it),
// with DAC_READ_SEARCH when `file_handles` (open_by_handle_at needs it).
// kInvalidArgument for an unknown name in `modcaps`.
absl::StatusOr<uint64_t> BrokerCapabilities(const std::vector<std::string>& modcaps,
                                            bool file_handles = false);

// Makes `mask` the process's effective and permitted sets (inheritable, ambient
// and bounding emptied of everything else). Call before any thread starts.
absl::Status ApplyCapabilities(uint64_t mask);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_CAPABILITIES_H_
