#include "common/log_record.h"

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(LogRecordTest, RoundTripsAndCutsLongMessages) {
  std::optional<LogRecord> record = DecodeLogRecord(EncodeLogRecord(LogLevel::kWarn, "disk full"));
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->level, LogLevel::kWarn);
  EXPECT_EQ(record->message, "disk full");
  const std::string encoded = EncodeLogRecord(LogLevel::kInfo, std::string(10000, 'x'));
  EXPECT_EQ(encoded.size(), kMaxLogRecordBytes);
  EXPECT_TRUE(DecodeLogRecord(encoded).has_value());
}

TEST(LogRecordTest, RefusesWhatIsNotARecordAndMasksControlCharacters) {
  EXPECT_FALSE(DecodeLogRecord("").has_value());
  EXPECT_FALSE(DecodeLogRecord(std::string(1, '\0') + "off").has_value());
  EXPECT_FALSE(DecodeLogRecord("\x09tab level").has_value());
  EXPECT_FALSE(DecodeLogRecord(std::string(kMaxLogRecordBytes + 1, '\x01')).has_value());
  std::optional<LogRecord> forged =
      DecodeLogRecord(EncodeLogRecord(LogLevel::kError, "a\nJan  1 root: b\r\x1b[2J"));
  ASSERT_TRUE(forged.has_value());
  EXPECT_EQ(forged->message, "a?Jan  1 root: b??[2J");
}

}  // namespace
}  // namespace virtiofsd
