#include "common/log_record.h"

#include <algorithm>

namespace virtiofsd {

std::string EncodeLogRecord(LogLevel level, absl::string_view message) {
  std::string record(1, static_cast<char>(level));
  const absl::string_view text = message.substr(0, kMaxLogRecordBytes - 1);
  record.append(text.data(), text.size());
  return record;
}

std::optional<LogRecord> DecodeLogRecord(absl::string_view packet) {
  if (packet.empty() || packet.size() > kMaxLogRecordBytes) return std::nullopt;
  const int level = static_cast<unsigned char>(packet[0]);
  if (level < static_cast<int>(LogLevel::kError) || level > static_cast<int>(LogLevel::kTrace)) {
    return std::nullopt;
  }
  LogRecord record{static_cast<LogLevel>(level), std::string(packet.substr(1))};
  std::replace_if(
      record.message.begin(), record.message.end(),
      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, '?');
  return record;
}

}  // namespace virtiofsd
