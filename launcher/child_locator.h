// Where the launcher finds its two child executables.
//
// In order: the environment override (VIRTIOFSD_FRONTEND / VIRTIOFSD_BROKER, used
// alone when set), the directory of the launcher's own executable (an installed
// layout: /usr/libexec/virtiofsd next to /usr/libexec/virtiofsd-frontend), then
// the Bazel layout (bazel-bin/launcher/virtiofsd -> ../frontend/virtiofsd-frontend).

#ifndef VIRTIOFSD_LAUNCHER_CHILD_LOCATOR_H_
#define VIRTIOFSD_LAUNCHER_CHILD_LOCATOR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

struct ChildBinary {
  absl::string_view file_name;      // "virtiofsd-frontend"
  absl::string_view bazel_package;  // "frontend"
  absl::string_view env_override;   // "VIRTIOFSD_FRONTEND"
};

inline constexpr ChildBinary kFrontendBinary = {"virtiofsd-frontend", "frontend",
                                                "VIRTIOFSD_FRONTEND"};
inline constexpr ChildBinary kBrokerBinary = {"virtiofsd-broker", "broker", "VIRTIOFSD_BROKER"};

// The paths to try, in order (pure). `self_dir` is the directory of the
// launcher's executable; `env_value` the override variable's value, if set.
std::vector<std::string> ChildCandidates(const ChildBinary& binary, absl::string_view self_dir,
                                         std::optional<absl::string_view> env_value);

// The first candidate that is an executable regular file. kNotFound lists the
// paths tried.
absl::StatusOr<std::string> FindChildBinary(const ChildBinary& binary);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_LOCATOR_H_
