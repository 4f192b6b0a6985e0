#include "launcher/option_values.h"

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::virtiofsd::testing::StatusIs;

enum class Color { kRed, kBlue };
constexpr std::pair<absl::string_view, Color> kColorNames[] = {{"red", Color::kRed},
                                                               {"blue", Color::kBlue}};

TEST(OptionValuesTest, ParseEnumTakesExactNamesAndListsThemOnError) {
  EXPECT_EQ(*ParseEnum("--color", "blue", kColorNames), Color::kBlue);
  absl::StatusOr<Color> bad = ParseEnum("--color", "Red", kColorNames);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(bad.status().message(), "invalid value 'Red' for '--color': expected one of red, blue");
}

TEST(OptionValuesTest, ParseNumberTakesDigitsThatFit) {
  EXPECT_EQ(*ParseNumber<uint32_t>("--n", "4294967295"), 4294967295u);
  for (const char* bad : {"", "-1", "+1", " 1", "1x", "4294967296"}) {
    EXPECT_THAT(ParseNumber<uint32_t>("--n", bad), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(OptionValuesTest, SocketPathFitsSockaddrUn) {
  EXPECT_TRUE(CheckSocketPath("--socket-path", std::string(107, 'a')).ok());
  EXPECT_THAT(CheckSocketPath("--socket-path", std::string(108, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckSocketPath("--socket-path", ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(OptionValuesTest, TagIsOneTo36Bytes) {
  EXPECT_TRUE(CheckTag("x").ok());
  EXPECT_TRUE(CheckTag(std::string(kMaxTagBytes, 't')).ok());
  EXPECT_FALSE(CheckTag("").ok());
  EXPECT_FALSE(CheckTag(std::string(kMaxTagBytes + 1, 't')).ok());
}

TEST(OptionValuesTest, RequestQueuesAreOneTo64) {
  EXPECT_EQ(*ParseRequestQueues("1"), 1u);
  EXPECT_EQ(*ParseRequestQueues("64"), kMaxRequestQueues);
  EXPECT_EQ(ParseRequestQueues("65").status().message(),
            "invalid value '65' for '--num-request-queues': must be 1 to 64");
  for (const char* bad : {"0", "65", "4294967296", "-1", "", "four", "4 "}) {
    absl::StatusOr<uint32_t> queues = ParseRequestQueues(bad);
    EXPECT_THAT(queues, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(std::string(queues.status().message()), HasSubstr("'--num-request-queues'"));
  }
}

TEST(OptionValuesTest, ModcapsNamesKnownCapabilitiesInAnyCase) {
  EXPECT_TRUE(CheckModcaps("--modcaps", "+sys_admin:-MKNOD").ok());
  EXPECT_THAT(CheckModcaps("--modcaps", "sys_admin"), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::Status unknown = CheckModcaps("--modcaps", "+chown:-nope");
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("unknown capability 'nope'"));
}

}  // namespace
}  // namespace virtiofsd
