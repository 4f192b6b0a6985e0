#include "frontend/frontend_options.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

TEST(FrontendOptionsTest, ParsesEveryOption) {
  ASSERT_OK_AND_ASSIGN(FrontendOptions o, ParseFrontendOptions({"--channel-fd=3",
                                                                "--fd=4",
                                                                "--tag=myfs",
                                                                "--cache=always",
                                                                "--writeback",
                                                                "--no-readdirplus",
                                                                "--allow-direct-io",
                                                                "--announce-submounts",
                                                                "--killpriv-v2",
                                                                "--posix-acl",
                                                                "--xattr",
                                                                "--allow-mmap",
                                                                "--thread-pool-size=8",
                                                                "--request-queues=4",
                                                                "--seccomp=log",
                                                                "--sandbox-uid=1234",
                                                                "--sandbox-gid=5678",
                                                                "--unique-ids",
                                                                "--rlimit-nofile=4096",
                                                                "--log-level=debug",
                                                                "--launcher-fd=5"}));
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
  ASSERT_OK_AND_ASSIGN(FrontendOptions o,
                       ParseFrontendOptions({"--channel-fd=3", "--socket-path=/tmp/s"}));
  EXPECT_EQ(o.seccomp, SeccompAction::kKill);
  EXPECT_TRUE(o.sandbox);
  EXPECT_EQ(o.sandbox_uid, 65534u);
  EXPECT_FALSE(o.unique_ids);
  EXPECT_EQ(o.rlimit_nofile, 0u);
  EXPECT_EQ(o.fuse.cache, CachePolicy::kAuto);
  EXPECT_TRUE(o.fuse.readdirplus);
}

struct BadCase {
  std::vector<std::string> args;
  const char* names;  // The message must name this.
};

class FrontendOptionsBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(FrontendOptionsBadTest, IsRefusedNamingTheOption) {
  auto parsed = ParseFrontendOptions(GetParam().args);
  ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(parsed.status().message().find(GetParam().names), absl::string_view::npos)
      << parsed.status();
}

INSTANTIATE_TEST_SUITE_P(
    Table, FrontendOptionsBadTest,
    ::testing::Values(
        BadCase{{"--fd=4"}, "--channel-fd"}, BadCase{{"--channel-fd=3"}, "--fd/--socket-path"},
        BadCase{{"--channel-fd=3", "--fd=4", "--socket-path=/x"}, "--fd/--socket-path"},
        BadCase{{"--channel-fd=x", "--fd=4"}, "--channel-fd"},
        BadCase{{"--channel-fd=-1", "--fd=4"}, "--channel-fd"},
        BadCase{{"--channel-fd=3", "--fd=4", "--cache=sometimes"}, "--cache"},
        BadCase{{"--channel-fd=3", "--fd=4", "--seccomp=maybe"}, "--seccomp"},
        BadCase{{"--channel-fd=3", "--fd=4", "--log-level=loud"}, "--log-level"},
        BadCase{{"--channel-fd=3", "--fd=4", "--tag="}, "--tag"},
        BadCase{{"--channel-fd=3", "--fd=4", std::string("--tag=") + std::string(37, 't')},
                "--tag"},
        BadCase{{"--channel-fd=3", "--fd=4", "--request-queues=0"}, "--request-queues"},
        BadCase{{"--channel-fd=3", "--fd=4", "--bogus"}, "--bogus"},
        BadCase{{"--channel-fd=3", "--fd=4", "--rlimit-nofile=0"}, "--rlimit-nofile"},
        BadCase{{"--channel-fd=3", "--fd=4", "--xattr=1"}, "--xattr"},
        BadCase{{"--channel-fd=3", "--fd=4", "--cache"}, "--cache"}));

}  // namespace
}  // namespace virtiofsd
