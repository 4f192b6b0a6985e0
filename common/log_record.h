// One log line as a child sends it to the launcher over its launcher link (a
// SOCK_SEQPACKET socket, one record per packet): a level byte, then the text.
// Pure. The launcher decodes what a possibly compromised child sent: anything
// that is not a record is refused, and control characters are masked so a child
// cannot forge extra lines in the log.

#ifndef VIRTIOFSD_COMMON_LOG_RECORD_H_
#define VIRTIOFSD_COMMON_LOG_RECORD_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/logging.h"

namespace virtiofsd {

// The largest record; longer messages are cut.
inline constexpr size_t kMaxLogRecordBytes = 4096;

std::string EncodeLogRecord(LogLevel level, absl::string_view message);

struct LogRecord {
  LogLevel level;
  std::string message;  // printable: every control character is shown as '?'
};
// nullopt for an empty packet, an unknown level or an oversized record.
std::optional<LogRecord> DecodeLogRecord(absl::string_view packet);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_LOG_RECORD_H_
