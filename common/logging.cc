#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace virtiofsd {
namespace {

// Start-up configuration, written by InitLogging() before threads exist.
struct LogConfig {
  std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  LogSink sink;  // empty: stderr
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

}  // namespace

constexpr std::pair<absl::string_view, LogLevel> kLogLevelNames[] = {
    {"off", LogLevel::kOff},   {"error", LogLevel::kError}, {"warn", LogLevel::kWarn},
    {"info", LogLevel::kInfo}, {"debug", LogLevel::kDebug}, {"trace", LogLevel::kTrace},
};

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  for (const auto& [text, level] : kLogLevelNames) {
    if (name == text) return level;
  }
  return std::nullopt;
}

absl::string_view NameOf(LogLevel level) {
  for (const auto& [text, item] : kLogLevelNames) {
    if (item == level) return text;
  }
  return "";
}

void InitLogging(absl::string_view program, LogLevel level) {
  LogConfig& config = Config();
  size_t n = std::min(program.size(), sizeof(config.program) - 1);
  program.copy(config.program, n);
  config.program[n] = '\0';
  config.level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void SetLogSink(LogSink sink) { Config().sink = std::move(sink); }

std::string StderrLine(absl::string_view program, pid_t pid, LogLevel level,
                       absl::string_view message) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ ", absl::Now(), absl::UTCTimeZone()),
                      program, "[", pid, "] ", LevelName(level), " ", message, "\n");
}

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff &&
         static_cast<int>(level) <= Config().level.load(std::memory_order_relaxed);
}

void LogLine(LogLevel level, absl::string_view message) {
  LogConfig& config = Config();
  if (config.sink) return config.sink(level, message);
  // One write() per line so lines of concurrent threads do not interleave.
  std::string line = StderrLine(config.program, getpid(), level, message);
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace virtiofsd
