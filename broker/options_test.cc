#include "broker/options.h"

#include "common/status_matchers.h"
#include "common/testing/config_text.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::ConfigFromText;
using ::virtiofsd::testing::StatusIs;

absl::StatusOr<BrokerOptions> FromText(const std::string& more) {
  return BrokerOptionsFromConfig(
      ConfigFromText<proto::BrokerConfig>(R"(channel_fd: 3 shared_dir: "/srv" )" + more));
}

TEST(BrokerOptionsTest, Defaults) {
  ASSERT_OK_AND_ASSIGN(BrokerOptions o, FromText(""));
  EXPECT_EQ(o.channel_fd, 3);
  EXPECT_EQ(o.shared_dir, "/srv");
  EXPECT_EQ(o.sandbox, SandboxMode::kNamespace);
  EXPECT_EQ(o.seccomp, SeccompAction::kKill);
  EXPECT_EQ(o.inode_file_handles, FileHandleMode::kNever);
  EXPECT_FALSE(o.xattr);
  EXPECT_FALSE(o.readonly);
  EXPECT_EQ(o.rlimit_nofile, 0u);
  EXPECT_EQ(o.threads, 4);
  EXPECT_EQ(o.log_level, LogLevel::kInfo);
  EXPECT_EQ(o.launcher_fd, -1);
}

TEST(BrokerOptionsTest, EveryField) {
  ASSERT_OK_AND_ASSIGN(BrokerOptions o,
                       FromText(R"(sandbox: "chroot" seccomp: "log" posix_acl: true readonly: true
                  inode_file_handles: "prefer" announce_submounts: true allow_direct_io: true
                  writeback: true killpriv_v2: true preserve_noatime: true
                  xattrmap: ":map::user.virtiofs.:" modcaps: "+SYS_ADMIN" modcaps: "-mknod"
                  translate_uid: "squash-guest:0:5:10" translate_uid: "host:5:0:1"
                  translate_gid: "map:0:7:1"
                  rlimit_nofile: 4096 threads: 8 log_level: "debug" launcher_fd: 5)"));
  EXPECT_EQ(o.sandbox, SandboxMode::kChroot);
  EXPECT_EQ(o.seccomp, SeccompAction::kLog);
  EXPECT_TRUE(o.posix_acl);
  EXPECT_TRUE(o.xattr);  // Implied by posix_acl.
  EXPECT_TRUE(o.readonly);
  EXPECT_EQ(o.inode_file_handles, FileHandleMode::kPrefer);
  EXPECT_TRUE(o.announce_submounts);
  EXPECT_TRUE(o.allow_direct_io);
  EXPECT_TRUE(o.writeback);
  EXPECT_TRUE(o.killpriv_v2);
  EXPECT_TRUE(o.preserve_noatime);
  EXPECT_EQ(o.xattrmap, ":map::user.virtiofs.:");
  EXPECT_EQ(o.modcaps, (std::vector<std::string>{"+sys_admin", "-mknod"}));
  EXPECT_EQ(o.translate_uid, (std::vector<std::string>{"squash-guest:0:5:10", "host:5:0:1"}));
  EXPECT_EQ(o.translate_gid, (std::vector<std::string>{"map:0:7:1"}));
  EXPECT_EQ(o.rlimit_nofile, 4096u);
  EXPECT_EQ(o.threads, 8);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  EXPECT_EQ(o.launcher_fd, 5);
}

TEST(BrokerOptionsTest, Refusals) {
  const std::string bad[] = {
      R"(sandbox: "jail")",
      R"(seccomp: "maybe")",
      R"(inode_file_handles: "always")",
      R"(threads: 257)",
      R"(rlimit_nofile: 2000000000000)",
      R"(log_level: "loud")",
      R"(log_level: "INFO")",
      R"(modcaps: "sys_admin")",
      R"(xattrmap: ":ok:all::")",  // Needs xattr.
      R"(launcher_fd: -1)",
  };
  for (const std::string& text : bad) {
    EXPECT_THAT(FromText(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
  for (const char* text :
       {R"(shared_dir: "/srv")", R"(channel_fd: 3)", R"(channel_fd: 3 shared_dir: "relative")",
        R"(channel_fd: -3 shared_dir: "/srv")"}) {
    EXPECT_THAT(BrokerOptionsFromConfig(ConfigFromText<proto::BrokerConfig>(text)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
}

TEST(BrokerOptionsTest, MessagesNameTheField) {
  absl::StatusOr<BrokerOptions> o = FromText(R"(sandbox: "jail")");
  EXPECT_EQ(o.status().message(), "BrokerConfig.sandbox: unknown value 'jail'");
}

}  // namespace
}  // namespace virtiofsd
