#include "broker/capabilities.h"

#include <cap-ng.h>
#include <linux/capability.h>

#include "absl/strings/str_cat.h"

namespace virtiofsd {

absl::StatusOr<uint64_t> BrokerCapabilities(const std::vector<std::string>& modcaps,
                                            bool file_handles) {
  uint64_t mask = file_handles ? uint64_t{1} << CAP_DAC_READ_SEARCH : 0;
  for (int cap : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETGID, CAP_SETUID,
                  CAP_MKNOD, CAP_SETFCAP}) {
    mask |= uint64_t{1} << cap;
  }
  for (const std::string& item : modcaps) {
    std::string name = item.substr(1);
    if (name.rfind("cap_", 0) == 0) name = name.substr(4);
    const int cap = capng_name_to_capability(name.c_str());
    if (cap < 0 || cap > CAP_LAST_CAP) {
      return absl::InvalidArgumentError(absl::StrCat("--modcaps: unknown capability '", name, "'"));
    }
    if (item[0] == '+') {
      mask |= uint64_t{1} << cap;
    } else {
      mask &= ~(uint64_t{1} << cap);
    }
  }
  return mask;
}

absl::Status ApplyCapabilities(uint64_t mask) {
  capng_clear(CAPNG_SELECT_ALL);
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (mask & (uint64_t{1} << cap)) {
      if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                       cap) != 0) {
        return absl::InternalError(absl::StrCat("capng_update(", cap, ") failed"));
      }
    }
  }
  if (capng_apply(CAPNG_SELECT_ALL) != 0) {
    // Older kernels without ambient capabilities: the rest still applies.
    if (capng_apply(CAPNG_SELECT_BOTH) != 0) return absl::InternalError("capng_apply failed");
  }
  return absl::OkStatus();
}

}  // namespace virtiofsd
