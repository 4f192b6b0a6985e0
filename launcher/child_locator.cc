#include "launcher/child_locator.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace virtiofsd {

std::vector<std::string> ChildCandidates(const ChildBinary& binary, absl::string_view self_dir,
                                         std::optional<absl::string_view> env_value) {
  if (env_value.has_value()) return {std::string(*env_value)};
  return {
      absl::StrCat(self_dir, "/", binary.file_name),
      absl::StrCat(self_dir, "/../", binary.bazel_package, "/", binary.file_name),
  };
}

absl::StatusOr<std::string> FindChildBinary(const ChildBinary& binary) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0) return ErrnoError(errno, "readlink /proc/self/exe");
  absl::string_view self_path(self, n);
  absl::string_view self_dir = self_path.substr(0, self_path.rfind('/'));

  const std::string env_name(binary.env_override);
  const char* env_value = getenv(env_name.c_str());
  std::optional<absl::string_view> override;
  if (env_value != nullptr) override = env_value;

  const std::vector<std::string> candidates = ChildCandidates(binary, self_dir, override);
  for (const std::string& path : candidates) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return absl::NotFoundError(absl::StrCat("cannot find the ", binary.file_name,
                                          " executable; tried ", absl::StrJoin(candidates, ", "),
                                          " (set ", binary.env_override, " to override)"));
}

}  // namespace virtiofsd
