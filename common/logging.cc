#include "common/logging.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace virtiofsd {
namespace {

// Start-up configuration, written by InitLogging() before threads exist.
struct LogConfig {
  std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  std::atomic<bool> use_syslog{false};
  char program[32] = "virtiofsd";
};

LogConfig& Config() {
  static LogConfig config;
  return config;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kTrace:
      return "TRACE";
    case LogLevel::kOff:
      break;
  }
  return "OFF";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarn:
      return LOG_WARNING;
    case LogLevel::kInfo:
      return LOG_INFO;
    default:
      return LOG_DEBUG;
  }
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  static constexpr std::pair<absl::string_view, LogLevel> kNames[] = {
      {"off", LogLevel::kOff},   {"error", LogLevel::kError}, {"warn", LogLevel::kWarn},
      {"info", LogLevel::kInfo}, {"debug", LogLevel::kDebug}, {"trace", LogLevel::kTrace},
  };
  for (const auto& [text, level] : kNames) {
    if (name == text) return level;
  }
  return std::nullopt;
}

void InitLogging(absl::string_view program, LogLevel level, bool use_syslog) {
  LogConfig& config = Config();
  size_t n = std::min(program.size(), sizeof(config.program) - 1);
  program.copy(config.program, n);
  config.program[n] = '\0';
  config.level.store(static_cast<int>(level), std::memory_order_relaxed);
  config.use_syslog.store(use_syslog, std::memory_order_relaxed);
  if (use_syslog) openlog(config.program, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff &&
         static_cast<int>(level) <= Config().level.load(std::memory_order_relaxed);
}

void LogLine(LogLevel level, absl::string_view message) {
  LogConfig& config = Config();
  if (config.use_syslog.load(std::memory_order_relaxed)) {
    syslog(SyslogPriority(level), "%.*s", static_cast<int>(message.size()), message.data());
    return;
  }
  // One write() per line so lines of concurrent threads do not interleave.
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ ", absl::Now(), absl::UTCTimeZone()),
                   config.program, "[", getpid(), "] ", LevelName(level), " ", message, "\n");
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace virtiofsd
