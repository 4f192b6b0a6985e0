#include "common/id_range.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace virtiofsd {

absl::StatusOr<uint32_t> ParseIdNumber(absl::string_view text, absl::string_view what) {
  uint32_t value = 0;
  // SimpleAtoi accepts a leading '+' and spaces; ids are plain decimal digits.
  if (text.empty() || text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a valid ", what, " (a number below 2^32)"));
  }
  return value;
}

absl::Status CheckIdRange(uint32_t base, uint32_t count, absl::string_view what) {
  if (count == 0) return absl::InvalidArgumentError("count must be at least 1");
  if (uint64_t{base} + count > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " range ends past 2^32"));
  }
  return absl::OkStatus();
}

}  // namespace virtiofsd
