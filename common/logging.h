// A small leveled logger. Lines go to stderr, or to a sink set at start-up: the
// children hand them to the launcher (common/launcher_link.h), which writes them
// to stderr or syslog, so no confined process ever needs a socket of its own.
//
// Debian's abseil has no absl/log. Configure once at start-up with InitLogging()
// (and SetLogSink()); afterwards logging is thread-safe.
//
//   VFSD_LOG(kWarn, "dropping request: %s", status.ToString());

#ifndef VIRTIOFSD_COMMON_LOGGING_H_
#define VIRTIOFSD_COMMON_LOGGING_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// Ordered by verbosity; the Rust virtiofsd's --log-level names.
enum class LogLevel { kOff = 0, kError, kWarn, kInfo, kDebug, kTrace };

// "error", "warn", "info", "debug", "trace", "off"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(absl::string_view name);
// The name ParseLogLevel() takes back.
absl::string_view NameOf(LogLevel level);

// Sets the process-wide threshold; `program` names the process on stderr lines.
void InitLogging(absl::string_view program, LogLevel level);

// Sends every later line to `sink` instead of stderr. Start-up only (before any
// thread logs). The sink must be thread-safe.
using LogSink = std::function<void(LogLevel level, absl::string_view message)>;
void SetLogSink(LogSink sink);

// A line as written to stderr: "TIME PROGRAM[PID] LEVEL MESSAGE\n".
std::string StderrLine(absl::string_view program, pid_t pid, LogLevel level,
                       absl::string_view message);

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
