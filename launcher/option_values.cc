#include "launcher/option_values.h"

#include <cap-ng.h>
#include <sys/un.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace virtiofsd {

absl::Status BadValue(absl::string_view option, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value '", value, "' for '", option, "': ", why));
}

absl::Status UnknownOption(absl::string_view arg) {
  return absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'"));
}

absl::Status NonEmpty(absl::string_view option, absl::string_view value) {
  if (value.empty()) return BadValue(option, value, "must not be empty");
  return absl::OkStatus();
}

absl::Status CheckSocketPath(absl::string_view option, absl::string_view value) {
  VFSD_RETURN_IF_ERROR(NonEmpty(option, value));
  if (value.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return BadValue(option, value,
                    absl::StrCat("longer than ", sizeof(sockaddr_un{}.sun_path) - 1,
                                 " bytes, the limit of a UNIX socket path"));
  }
  return absl::OkStatus();
}

absl::Status CheckTag(absl::string_view value) {
  if (value.empty() || value.size() > kMaxTagBytes) {
    return BadValue("--tag", value, absl::StrCat("must be 1 to ", kMaxTagBytes, " bytes long"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ParseRequestQueues(absl::string_view value) {
  constexpr absl::string_view kOption = "--num-request-queues";
  VFSD_ASSIGN_OR_RETURN(uint32_t queues, ParseNumber<uint32_t>(kOption, value));
  if (queues < 1 || queues > kMaxRequestQueues) {
    return BadValue(kOption, value, absl::StrCat("must be 1 to ", kMaxRequestQueues));
  }
  return queues;
}

absl::Status CheckModcaps(absl::string_view option, absl::string_view value) {
  for (absl::string_view item : absl::StrSplit(value, ':')) {
    if (item.size() < 2 || (item[0] != '+' && item[0] != '-')) {
      return BadValue(option, value,
                      absl::StrCat("'", item, "' is not +capability or -capability"));
    }
    std::string name = absl::AsciiStrToLower(item.substr(1));
    if (capng_name_to_capability(name.c_str()) < 0) {
      return BadValue(option, value, absl::StrCat("unknown capability '", item.substr(1), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace virtiofsd
