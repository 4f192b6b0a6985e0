#include "broker/options.h"

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;

std::vector<std::string> Base(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--channel-fd=3", "--shared-dir=/srv"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(BrokerOptionsTest, Defaults) {
  ASSERT_OK_AND_ASSIGN(BrokerOptions o, ParseBrokerOptions(Base()));
  EXPECT_EQ(o.channel_fd, 3);
  EXPECT_EQ(o.shared_dir, "/srv");
  EXPECT_EQ(o.sandbox, SandboxMode::kNamespace);
  EXPECT_EQ(o.seccomp, SeccompAction::kKill);
  EXPECT_EQ(o.inode_file_handles, FileHandleMode::kNever);
  EXPECT_FALSE(o.xattr);
  EXPECT_FALSE(o.readonly);
  EXPECT_EQ(o.threads, 4);
  EXPECT_EQ(o.log_level, LogLevel::kInfo);
}

TEST(BrokerOptionsTest, EveryOption) {
  ASSERT_OK_AND_ASSIGN(
      BrokerOptions o,
      ParseBrokerOptions(
          Base({"--sandbox=chroot", "--seccomp", "log", "--posix-acl", "--readonly",
                "--inode-file-handles=prefer", "--announce-submounts", "--allow-direct-io",
                "--writeback", "--killpriv-v2", "--preserve-noatime", "--security-label",
                "--xattrmap=:map::user.virtiofs.:", "--modcaps=+SYS_ADMIN,-mknod",
                "--rlimit-nofile=4096", "--threads=8", "--log-level=debug", "--launcher-fd=5"})));
  EXPECT_EQ(o.sandbox, SandboxMode::kChroot);
  EXPECT_EQ(o.seccomp, SeccompAction::kLog);
  EXPECT_TRUE(o.posix_acl);
  EXPECT_TRUE(o.xattr);  // Implied by --posix-acl.
  EXPECT_TRUE(o.readonly);
  EXPECT_EQ(o.inode_file_handles, FileHandleMode::kPrefer);
  EXPECT_TRUE(o.announce_submounts);
  EXPECT_TRUE(o.allow_direct_io);
  EXPECT_TRUE(o.writeback);
  EXPECT_TRUE(o.killpriv_v2);
  EXPECT_TRUE(o.preserve_noatime);
  EXPECT_TRUE(o.security_label);
  EXPECT_EQ(o.xattrmap, ":map::user.virtiofs.:");
  EXPECT_EQ(o.modcaps, (std::vector<std::string>{"+sys_admin", "-mknod"}));
  EXPECT_EQ(o.rlimit_nofile, 4096u);
  EXPECT_EQ(o.threads, 8);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  EXPECT_EQ(o.launcher_fd, 5);
}

TEST(BrokerOptionsTest, TranslateRulesAccumulateInOrder) {
  ASSERT_OK_AND_ASSIGN(
      BrokerOptions o,
      ParseBrokerOptions(Base({"--translate-uid=squash-guest:0:5:10", "--translate-gid=map:0:7:1",
                               "--translate-uid", "host:5:0:1"})));
  EXPECT_EQ(o.translate_uid, (std::vector<std::string>{"squash-guest:0:5:10", "host:5:0:1"}));
  EXPECT_EQ(o.translate_gid, (std::vector<std::string>{"map:0:7:1"}));
}

TEST(BrokerOptionsTest, Refusals) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"--channel-fd=3"},
      {"--shared-dir=/srv"},
      Base({"--sandbox=jail"}),
      Base({"--seccomp=maybe"}),
      Base({"--inode-file-handles=always"}),
      Base({"--threads=0"}),
      Base({"--threads=many"}),
      Base({"--rlimit-nofile=-1"}),
      Base({"--log-level=loud"}),
      Base({"--modcaps=sys_admin"}),
      Base({"--xattrmap=:ok:all::"}),  // Needs --xattr.
      Base({"--xattr=yes"}),
      Base({"--unknown"}),
      Base({"positional"}),
      Base({"--threads"}),
      {"--channel-fd=3", "--shared-dir=relative"},
      {"--channel-fd=-3", "--shared-dir=/srv"},
  };
  for (const auto& args : bad) {
    EXPECT_THAT(ParseBrokerOptions(args), StatusIs(absl::StatusCode::kInvalidArgument))
        << ::testing::PrintToString(args);
  }
}

}  // namespace
}  // namespace virtiofsd
