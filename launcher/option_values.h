// Checks of single command-line values, shared by the option table (options.cc)
// and the deprecated `-o` items (compat_options.h). Pure: no syscalls. Every
// error is kInvalidArgument in the Rust virtiofsd's wording,
// "invalid value 'V' for 'OPTION': why".

#ifndef VIRTIOFSD_LAUNCHER_OPTION_VALUES_H_
#define VIRTIOFSD_LAUNCHER_OPTION_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// The virtio-fs config space holds the tag in 36 bytes.
inline constexpr size_t kMaxTagBytes = 36;

// The most request queues the frontend serves (FrontendConfig.request_queues):
// one thread each, counted in its RLIMIT_NPROC bound.
inline constexpr uint32_t kMaxRequestQueues = 64;

absl::Status BadValue(absl::string_view option, absl::string_view value, absl::string_view why);

// "unknown option 'ARG'".
absl::Status UnknownOption(absl::string_view arg);

// One of `names` (exact spelling); the error lists them all.
template <typename T, size_t N>
absl::StatusOr<T> ParseEnum(absl::string_view option, absl::string_view value,
                            const std::pair<absl::string_view, T> (&names)[N]) {
  std::vector<absl::string_view> choices;
  for (const auto& [name, item] : names) {
    if (value == name) return item;
    choices.push_back(name);
  }
  return BadValue(option, value, absl::StrCat("expected one of ", absl::StrJoin(choices, ", ")));
}

// Decimal digits only (no sign, no spaces) that fit in Int.
template <typename Int>
absl::StatusOr<Int> ParseNumber(absl::string_view option, absl::string_view value) {
  Int number = 0;
  if (value.empty() || value.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(value, &number)) {
    return BadValue(option, value, "expected a non-negative integer");
  }
  return number;
}

absl::Status NonEmpty(absl::string_view option, absl::string_view value);

// Not empty, and short enough for sockaddr_un.
absl::Status CheckSocketPath(absl::string_view option, absl::string_view value);

// 1 to kMaxTagBytes bytes.
absl::Status CheckTag(absl::string_view value);

// --num-request-queues: a number from 1 to kMaxRequestQueues.
absl::StatusOr<uint32_t> ParseRequestQueues(absl::string_view value);

// "+name:-name:..." as the Rust daemon and libcap-ng spell capability names (any
// case, without CAP_); each name must be one libcap-ng knows.
absl::Status CheckModcaps(absl::string_view option, absl::string_view value);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_OPTION_VALUES_H_
