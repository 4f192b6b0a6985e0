#include "frontend/frontend_options.h"

#include "common/status_matchers.h"
#include "common/testing/config_text.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::ConfigFromText;
using ::virtiofsd::testing::StatusIs;

absl::StatusOr<FrontendOptions> FromText(const std::string& text) {
  return FrontendOptionsFromConfig(ConfigFromText<proto::FrontendConfig>(text));
}

TEST(FrontendOptionsTest, TakesEveryField) {
  ASSERT_OK_AND_ASSIGN(
      FrontendOptions o,
      FromText(R"(channel_fd: 3 listen_fd: 4 tag: "myfs" cache: "always" writeback: true
                  no_readdirplus: true announce_submounts: true killpriv_v2: true
                  posix_acl: true allow_mmap: true thread_pool_size: 8 request_queues: 4
                  seccomp: "log" sandbox_uid: 1234 sandbox_gid: 5678 unique_ids: true
                  rlimit_nofile: 4096 log_level: "debug" launcher_fd: 5)"));
  EXPECT_EQ(o.channel_fd, 3);
  EXPECT_EQ(o.listen_fd, 4);
  EXPECT_EQ(o.tag, "myfs");
  EXPECT_EQ(o.fuse.cache, CachePolicy::kAlways);
  EXPECT_TRUE(o.fuse.writeback);
  EXPECT_FALSE(o.fuse.readdirplus);
  EXPECT_TRUE(o.fuse.announce_submounts);
  EXPECT_TRUE(o.fuse.killpriv_v2);
  EXPECT_TRUE(o.fuse.posix_acl);
  EXPECT_TRUE(o.fuse.allow_mmap);
  EXPECT_EQ(o.thread_pool_size, 8);
  EXPECT_EQ(o.request_queues, 4);
  EXPECT_EQ(o.seccomp, SeccompAction::kLog);
  EXPECT_EQ(o.sandbox_uid, 1234u);
  EXPECT_EQ(o.sandbox_gid, 5678u);
  EXPECT_TRUE(o.unique_ids);
  EXPECT_EQ(o.rlimit_nofile, 4096u);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  EXPECT_EQ(o.launcher_fd, 5);
  EXPECT_TRUE(o.sandbox);
}

TEST(FrontendOptionsTest, DefaultsAreSafe) {
  ASSERT_OK_AND_ASSIGN(FrontendOptions o, FromText("channel_fd: 3 listen_fd: 4"));
  EXPECT_EQ(o.seccomp, SeccompAction::kKill);
  EXPECT_TRUE(o.sandbox);
  EXPECT_EQ(o.sandbox_uid, 65534u);
  EXPECT_EQ(o.sandbox_gid, 65534u);
  EXPECT_FALSE(o.unique_ids);
  EXPECT_EQ(o.rlimit_nofile, 0u);
  EXPECT_EQ(o.request_queues, 1);
  EXPECT_EQ(o.fuse.cache, CachePolicy::kAuto);
  EXPECT_TRUE(o.fuse.readdirplus);
  EXPECT_EQ(o.launcher_fd, -1);
}

struct BadCase {
  std::string text;
  const char* names;  // The message must name this.
};

class FrontendOptionsBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(FrontendOptionsBadTest, IsRefusedNamingTheField) {
  absl::StatusOr<FrontendOptions> parsed = FromText(GetParam().text);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(parsed.status().message().find(GetParam().names), absl::string_view::npos)
      << parsed.status();
}

INSTANTIATE_TEST_SUITE_P(
    Table, FrontendOptionsBadTest,
    ::testing::Values(
        BadCase{"listen_fd: 4", "FrontendConfig.channel_fd"},
        BadCase{"channel_fd: 3", "FrontendConfig.listen_fd"},
        BadCase{"channel_fd: -1 listen_fd: 4", "channel_fd"},
        BadCase{"channel_fd: 3 listen_fd: 4 launcher_fd: -5", "launcher_fd"},
        BadCase{R"(channel_fd: 3 listen_fd: 4 cache: "sometimes")", "cache"},
        BadCase{R"(channel_fd: 3 listen_fd: 4 cache: "none")", "cache"},  // The launcher's alias.
        BadCase{R"(channel_fd: 3 listen_fd: 4 seccomp: "maybe")", "seccomp"},
        BadCase{R"(channel_fd: 3 listen_fd: 4 log_level: "loud")", "log_level"},
        BadCase{"channel_fd: 3 listen_fd: 4 tag: \"" + std::string(37, 't') + "\"", "tag"},
        BadCase{"channel_fd: 3 listen_fd: 4 request_queues: 65", "request_queues"},
        BadCase{"channel_fd: 3 listen_fd: 4 thread_pool_size: 1025", "thread_pool_size"},
        BadCase{"channel_fd: 3 listen_fd: 4 sandbox_uid: 4294967295", "sandbox_uid"},
        BadCase{"channel_fd: 3 listen_fd: 4 rlimit_nofile: 2000000000000", "rlimit_nofile"}));

}  // namespace
}  // namespace virtiofsd
