#include "launcher/child_args.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

Options Parse(std::vector<std::string> args) {
  absl::StatusOr<Command> command = ParseCommandLine(args);
  EXPECT_OK(command);
  return command.ok() ? command->options : Options{};
}

TEST(ChildArgsTest, DefaultsArePassedExplicitly) {
  Options o = Parse({"--shared-dir=/srv", "--socket-path=/run/vfsd.sock"});
  EXPECT_THAT(BrokerArguments(o),
              ElementsAre("--channel-fd=3", "--shared-dir=/srv", "--sandbox=namespace",
                          "--inode-file-handles=never", "--announce-submounts", "--seccomp=kill",
                          "--log-level=info", "--launcher-fd=5"));
  EXPECT_THAT(
      FrontendArguments(o),
      ElementsAre("--channel-fd=3", "--fd=4", "--cache=auto", "--thread-pool-size=0",
                  "--announce-submounts", "--seccomp=kill", "--log-level=info", "--launcher-fd=5"));
}

TEST(ChildArgsTest, EveryHonouredOptionReachesItsChild) {
  Options o = Parse({"--shared-dir=/srv",
                     "--fd=9",
                     "--tag=myfs",
                     "--thread-pool-size=8",
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
  EXPECT_THAT(
      BrokerArguments(o),
      ElementsAre("--channel-fd=3", "--shared-dir=/srv", "--sandbox=chroot",
                  "--inode-file-handles=prefer", "--readonly", "--preserve-noatime",
                  "--xattrmap=:ok:all:::", "--translate-uid=squash-guest:0:1001:4294967295",
                  "--translate-uid=host:1001:0:1", "--translate-gid=forbid-guest:5:1",
                  "--modcaps=+sys_admin", "--modcaps=-MKNOD", "--rlimit-nofile=4096", "--xattr",
                  "--posix-acl", "--allow-direct-io", "--writeback", "--killpriv-v2",
                  "--seccomp=log", "--log-level=debug", "--launcher-fd=5"));
  EXPECT_THAT(
      FrontendArguments(o),
      ElementsAre("--channel-fd=3", "--fd=4", "--cache=metadata", "--thread-pool-size=8",
                  "--tag=myfs", "--no-readdirplus", "--allow-mmap", "--rlimit-nofile=4096",
                  "--xattr", "--posix-acl", "--allow-direct-io", "--writeback", "--killpriv-v2",
                  "--seccomp=log", "--log-level=debug", "--launcher-fd=5"));
}

TEST(ChildArgsTest, CacheNeverTurnsReaddirplusOff) {
  Options o = Parse({"--shared-dir=/srv", "--fd=3", "--cache=never"});
  EXPECT_THAT(FrontendArguments(o), Contains("--no-readdirplus"));
  o = Parse({"--shared-dir=/srv", "--fd=3", "--cache=always"});
  EXPECT_THAT(FrontendArguments(o), Not(Contains("--no-readdirplus")));
}

TEST(ChildArgsTest, RlimitNofileZeroIsNotPassed) {
  Options o = Parse({"--shared-dir=/srv", "--fd=3", "--rlimit-nofile=0"});
  EXPECT_THAT(BrokerArguments(o), Not(Contains(::testing::HasSubstr("--rlimit-nofile"))));
  EXPECT_THAT(FrontendArguments(o), Not(Contains(::testing::HasSubstr("--rlimit-nofile"))));
}

TEST(ChildArgsTest, TheUserFdNumberNeverReachesTheFrontend) {
  // Whatever --fd the user gave, the frontend finds the socket at fd 4.
  Options o = Parse({"--shared-dir=/srv", "--fd=17"});
  EXPECT_THAT(FrontendArguments(o), Contains("--fd=4"));
  EXPECT_THAT(FrontendArguments(o), Not(Contains("--fd=17")));
}

}  // namespace
}  // namespace virtiofsd
