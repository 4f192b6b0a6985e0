// The uid and gid the frontend runs as. Each instance gets its own: a base (the
// --frontend-id-base option) plus the launcher's pid, which no other running
// instance has. So one compromised frontend shares no identity with another
// (signals, RLIMIT_NPROC accounting). Where that id is not mapped in the
// launcher's user namespace (virtiofsd run as root of a namespace that maps only
// a few ids, see README "Running without root"), or the base is 0, the frontend
// is nobody (65534), as every such instance is.
//
// Pure: the caller reads /proc/self/uid_map and gid_map.

#ifndef VIRTIOFSD_LAUNCHER_FRONTEND_IDENTITY_H_
#define VIRTIOFSD_LAUNCHER_FRONTEND_IDENTITY_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace virtiofsd {

// 0x7f000000: systemd leaves 0x70000000..0x7ffdffff unassigned; with the
// largest pid (PID_MAX_LIMIT, 2^22) the ids stay below 0x7f400000.
inline constexpr uint32_t kDefaultFrontendIdBase = 0x7f000000;
inline constexpr uint32_t kMaxPid = 1u << 22;
inline constexpr uint32_t kSharedFrontendId = 65534;

struct FrontendIdentity {
  uint32_t uid = kSharedFrontendId;
  uint32_t gid = kSharedFrontendId;
  bool unique = false;  // false: the shared nobody
};

// True if `id` lies in a range of `map` (the text of /proc/PID/uid_map or gid_map:
// lines "inside outside count").
bool IdIsMapped(absl::string_view map, uint32_t id);

// base + pid for both ids when base is not 0 and both are mapped; else nobody.
FrontendIdentity ChooseFrontendIdentity(uint32_t base, uint32_t pid, absl::string_view uid_map,
                                        absl::string_view gid_map);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_FRONTEND_IDENTITY_H_
