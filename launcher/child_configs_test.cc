#include "launcher/child_configs.h"

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "common/testing/config_text.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::ConfigFromText;

Options Parse(std::vector<std::string> args) {
  absl::StatusOr<Command> command = ParseCommandLine(args);
  EXPECT_OK(command);
  return command.ok() ? command->options : Options{};
}

template <typename Config>
void ExpectConfig(const Config& actual, const std::string& expected) {
  EXPECT_EQ(actual.ShortDebugString(), ConfigFromText<Config>(expected).ShortDebugString());
}

constexpr FrontendIdentity kNobody;

TEST(ChildConfigsTest, DefaultsAreWrittenExplicitly) {
  Options o = Parse({"--shared-dir=/srv", "--socket-path=/run/vfsd.sock"});
  ExpectConfig(BrokerConfigFor(o), R"(
      channel_fd: 3 shared_dir: "/srv" sandbox: "namespace" seccomp: "kill"
      inode_file_handles: "never" xattr: false posix_acl: false readonly: false
      announce_submounts: true allow_direct_io: false writeback: false killpriv_v2: false
      preserve_noatime: false rlimit_nofile: 0 log_level: "info" launcher_fd: 5)");
  ExpectConfig(FrontendConfigFor(o, kNobody), R"(
      channel_fd: 3 listen_fd: 4 cache: "auto" writeback: false no_readdirplus: false
      announce_submounts: true killpriv_v2: false posix_acl: false allow_mmap: false
      thread_pool_size: 0 request_queues: 1 seccomp: "kill" sandbox_uid: 65534 sandbox_gid: 65534
      unique_ids: false rlimit_nofile: 0 log_level: "info" launcher_fd: 5)");
}

TEST(ChildConfigsTest, EveryHonouredOptionReachesItsChild) {
  Options o = Parse({"--shared-dir=/srv",
                     "--fd=9",
                     "--tag=myfs",
                     "--thread-pool-size=8",
                     "--num-request-queues=4",
                     "--posix-acl",
                     "--xattrmap=:ok:all:::",
                     "--sandbox=chroot",
                     "--readonly",
                     "--seccomp=log",
                     "--no-announce-submounts",
                     "--inode-file-handles=prefer",
                     "--cache=metadata",
                     "--allow-mmap",
                     "--no-readdirplus",
                     "--writeback",
                     "--allow-direct-io",
                     "--modcaps=+sys_admin:-MKNOD",
                     "--log-level=debug",
                     "--syslog",
                     "--rlimit-nofile=4096",
                     "--killpriv-v2",
                     "--preserve-noatime",
                     "--translate-uid=squash-guest:0:1001:4294967295",
                     "--translate-gid=forbid-guest:5:1",
                     "--translate-uid=host:1001:0:1"});
  ExpectConfig(BrokerConfigFor(o), R"(
      channel_fd: 3 shared_dir: "/srv" sandbox: "chroot" seccomp: "log"
      inode_file_handles: "prefer" xattr: true posix_acl: true readonly: true
      announce_submounts: false allow_direct_io: true writeback: true killpriv_v2: true
      preserve_noatime: true xattrmap: ":ok:all:::"
      translate_uid: "squash-guest:0:1001:4294967295" translate_uid: "host:1001:0:1"
      translate_gid: "forbid-guest:5:1" modcaps: "+sys_admin" modcaps: "-MKNOD"
      rlimit_nofile: 4096 log_level: "debug" launcher_fd: 5)");
  ExpectConfig(FrontendConfigFor(o, {1000, 1001, true}), R"(
      channel_fd: 3 listen_fd: 4 tag: "myfs" cache: "metadata" writeback: true
      no_readdirplus: true announce_submounts: false killpriv_v2: true posix_acl: true
      allow_mmap: true thread_pool_size: 8 request_queues: 4 seccomp: "log" sandbox_uid: 1000 sandbox_gid: 1001
      unique_ids: true rlimit_nofile: 4096 log_level: "debug" launcher_fd: 5)");
}

TEST(ChildConfigsTest, CacheNeverTurnsReaddirplusOff) {
  EXPECT_TRUE(FrontendConfigFor(Parse({"--shared-dir=/srv", "--fd=3", "--cache=never"}), kNobody)
                  .no_readdirplus());
  EXPECT_FALSE(FrontendConfigFor(Parse({"--shared-dir=/srv", "--fd=3", "--cache=always"}), kNobody)
                   .no_readdirplus());
}

TEST(ChildConfigsTest, TheUserFdNumberNeverReachesTheFrontend) {
  // Whatever --fd the user gave, the frontend finds the socket at fd 4.
  EXPECT_EQ(FrontendConfigFor(Parse({"--shared-dir=/srv", "--fd=17"}), kNobody).listen_fd(), 4);
}

TEST(ChildConfigsTest, AnOversizedThreadPoolSaturatesForTheFrontendToRefuse) {
  Options o = Parse({"--shared-dir=/srv", "--fd=3", "--thread-pool-size=4294967297"});
  EXPECT_EQ(FrontendConfigFor(o, kNobody).thread_pool_size(), UINT32_MAX);
}

}  // namespace
}  // namespace virtiofsd
