// A small leveled logger, to stderr or syslog.
//
// Debian's abseil has no absl/log. Configure once at start-up with InitLogging()
// (before any sandbox is entered: syslog connects its socket there); afterwards
// logging is thread-safe and never allocates more than the formatted line.
//
//   VFSD_LOG(kWarn, "dropping request: %s", status.ToString());

#ifndef VIRTIOFSD_COMMON_LOGGING_H_
#define VIRTIOFSD_COMMON_LOGGING_H_

#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// Ordered by verbosity; the Rust virtiofsd's --log-level names.
enum class LogLevel { kOff = 0, kError, kWarn, kInfo, kDebug, kTrace };

// "error", "warn", "info", "debug", "trace", "off"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(absl::string_view name);

// Sets the process-wide threshold and destination. `program` prefixes each line.
// With `use_syslog` lines go to syslog (LOG_DAEMON) and the socket is opened now.
void InitLogging(absl::string_view program, LogLevel level, bool use_syslog);

// True when messages of `level` are currently written.
bool LogEnabled(LogLevel level);

// Writes one line. Prefer VFSD_LOG, which skips formatting for disabled levels.
void LogLine(LogLevel level, absl::string_view message);

}  // namespace virtiofsd

#define VFSD_LOG(level, ...)                                                              \
  do {                                                                                    \
    if (::virtiofsd::LogEnabled(::virtiofsd::LogLevel::level)) {                          \
      ::virtiofsd::LogLine(::virtiofsd::LogLevel::level, ::absl::StrFormat(__VA_ARGS__)); \
    }                                                                                     \
  } while (false)

#endif  // VIRTIOFSD_COMMON_LOGGING_H_
