// How the launcher hands a child its start-up configuration (proto/config.proto)
// in place of a command line: the message, framed, in a sealed memfd that the
// child inherits as fd kChildConfigFd and reads once, before it confines itself.
//
// Framing: the 4 bytes "VFSC", the message's length as 4 bytes little-endian,
// the serialized message; nothing after it. So a truncated or padded file is
// told apart from a message whose last fields were left out.
//
// Fd numbers of the launcher <-> child contract: the broker channel is fd 3 in
// both children, the vhost-user listening socket fd 4 in the frontend, each
// child's launcher link fd 5, and the configuration fd 6.

#ifndef VIRTIOFSD_COMMON_CHILD_CONFIG_H_
#define VIRTIOFSD_COMMON_CHILD_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "google/protobuf/message_lite.h"

namespace virtiofsd {

inline constexpr int kChildChannelFd = 3;
inline constexpr int kFrontendListenFd = 4;
inline constexpr int kChildLauncherFd = 5;
inline constexpr int kChildConfigFd = 6;

// A configuration larger than this is refused (the real ones are < 4 KiB).
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// The framed bytes of `config`.
std::string EncodeConfig(const google::protobuf::MessageLite& config);

// A sealed (read-only, fixed-size) memfd holding `bytes`, positioned at 0, with
// FD_CLOEXEC: the caller maps it onto kChildConfigFd of the child. Errors carry
// the errno of memfd_create/write/fcntl.
absl::StatusOr<UniqueFd> SealedMemfd(absl::string_view bytes);

// SealedMemfd(EncodeConfig(config)).
absl::StatusOr<UniqueFd> ConfigMemfd(const google::protobuf::MessageLite& config);

// Reads the sealed memfd `fd` whole, closes it, and parses the framed message
// into `config`. kInvalidArgument with a message for a person, naming fd and
// message type, when fd is not open, is not a sealed memfd (a pipe, terminal or
// plain file: refused without reading), is not a configuration, is truncated or
// too long, or does not parse.
absl::Status ReadConfig(int fd, google::protobuf::MessageLite& config);

// For the children's checks of what they read: kInvalidArgument
// "TYPE.FIELD: why" (TYPE is "BrokerConfig" or "FrontendConfig").
absl::Status ConfigFieldError(absl::string_view type, absl::string_view field,
                              absl::string_view why);

// `name` parsed by `parse` (common/settings.h, common/logging.h) into `value`;
// an empty name keeps `value`, the default. ConfigFieldError for an unknown name.
template <typename T>
absl::Status ParseConfigName(absl::string_view type, absl::string_view field,
                             const std::string& name, std::optional<T> (*parse)(absl::string_view),
                             T& value) {
  if (name.empty()) return absl::OkStatus();
  std::optional<T> parsed = parse(name);
  if (!parsed) return ConfigFieldError(type, field, absl::StrCat("unknown value '", name, "'"));
  value = *parsed;
  return absl::OkStatus();
}

// `fd` into `out` when it can be an fd number (0..2^30).
absl::Status CheckConfigFd(absl::string_view type, absl::string_view field, int64_t fd, int& out);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHILD_CONFIG_H_
