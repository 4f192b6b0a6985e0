#include "launcher/usage.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;

TEST(UsageTest, CapabilitiesAreTheVhostUserJson) {
  nlohmann::json caps = nlohmann::json::parse(CapabilitiesJson());
  EXPECT_EQ(caps["type"], "fs");
  EXPECT_EQ(caps["features"], nlohmann::json::array({"separate-options"}));
}

TEST(UsageTest, HelpListsEveryOption) {
  const std::string help = HelpText();
  for (const char* option : {"--shared-dir",
                             "--tag",
                             "--socket-path",
                             "--socket ",
                             "--socket-group",
                             "--fd",
                             "--thread-pool-size",
                             "--num-request-queues",
                             "--xattr ",
                             "--posix-acl",
                             "--xattrmap",
                             "--sandbox",
                             "--readonly",
                             "--seccomp",
                             "--announce-submounts",
                             "--no-announce-submounts",
                             "--inode-file-handles",
                             "--cache",
                             "--allow-mmap",
                             "--no-readdirplus",
                             "--writeback",
                             "--allow-direct-io",
                             "--print-capabilities",
                             "--modcaps",
                             "--log-level",
                             "--syslog",
                             "--rlimit-nofile",
                             "--killpriv-v2",
                             "--no-killpriv-v2",
                             "--security-label",
                             "--uid-map",
                             "--gid-map",
                             "--translate-uid",
                             "--translate-gid",
                             "--preserve-noatime",
                             "--migration-mode",
                             "--migration-on-error",
                             "--migration-verify-handles",
                             "--migration-confirm-paths",
                             "-o <",
                             "-d ",
                             "-f ",
                             "--help",
                             "--version"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
}

TEST(UsageTest, VersionNamesTheCommand) { EXPECT_THAT(VersionText(), HasSubstr("virtiofsd ")); }

}  // namespace
}  // namespace virtiofsd
