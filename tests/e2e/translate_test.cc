// --translate-uid/--translate-gid with a real guest: tests/e2e/translate.sh runs
// file operations as several guest users against ours started with squash,
// host and forbid rules (one guest boot). Files the squashed users create must
// belong to the mapped ids on the host and be shown to the guest as the ids the
// host rule maps back; the forbidden user and a chown to it must get EPERM.

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {
namespace {

TEST(TranslateTest, SquashedUsersOwnTheMappedHostIdsAndForbiddenOnesAreRefused) {
  const std::string share = Env("TEST_TMPDIR", "/tmp") + "/share";
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0);
  ASSERT_EQ(chmod(share.c_str(), 0755), 0);
  int status;
  RunShell(absl::StrCat("cp ", ShellQuote(Runfile("tests/e2e/perm_helper")), " ",
                        ShellQuote(share + "/perm_helper"), " && chmod 0755 ",
                        ShellQuote(share + "/perm_helper")),
           status);
  ASSERT_EQ(status, 0) << "cannot copy the helper into " << share;
  const std::string daemon =
      Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd")) +
      " --socket-path={socket} --shared-dir={dir}"
      " --translate-uid=squash-guest:1000:2000:3 --translate-uid=host:2000:1001:1"
      " --translate-uid=forbid-guest:1003:1"
      " --translate-gid=squash-guest:1000:3000:3 --translate-gid=host:3000:1001:1";
  const std::string logs =
      Env("TEST_UNDECLARED_OUTPUTS_DIR", Env("TEST_TMPDIR", "/tmp")) + "/translate";
  mkdir(logs.c_str(), 0755);
  const std::string output = RunShell(
      absl::StrCat(ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ",
                   ShellQuote(daemon), " --shared-dir ", ShellQuote(share), " --script ",
                   ShellQuote(Runfile("tests/e2e/translate.sh")), " --guest-dir ",
                   ShellQuote(GuestDir()), " --timeout 300 --log ", ShellQuote(logs), " 2>&1"),
      status);
  EXPECT_EQ(status, 0) << output;
  const std::map<std::string, std::string> guest = ParseCases(output);
  ASSERT_TRUE(guest.count("DONE")) << "the guest run did not finish:\n" << output;

  // What the guest saw.
  const std::map<std::string, std::string> expected = {
      {"create_as_1001", "ok 0644 1001 1001"},
      {"create_as_1002", "ok 0644 1001 1001"},
      {"mkdir_as_1000", "ok 0755 1001 1001"},
      {"create_as_root", "ok 0644 0 0"},
      {"create_as_1003", "EPERM"},
      {"chown_to_1003", "EPERM 0644 0 0"},
  };
  for (const auto& [name, want] : expected) {
    auto it = guest.find(name);
    EXPECT_EQ(it == guest.end() ? "(missing)" : it->second, want) << name;
  }

  // What the host holds.
  const std::map<std::string, std::pair<uid_t, gid_t>> owners = {
      {"f1001", {2000, 3000}},
      {"f1002", {2000, 3000}},
      {"d1000", {2000, 3000}},
      {"froot", {0, 0}},
  };
  for (const auto& [name, owner] : owners) {
    struct stat st;
    ASSERT_EQ(lstat((share + "/idmap/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, owner.first) << name;
    EXPECT_EQ(st.st_gid, owner.second) << name;
  }
  struct stat st;
  EXPECT_NE(lstat((share + "/idmap/f1003").c_str(), &st), 0) << "the forbidden user created it";
}

}  // namespace
}  // namespace virtiofsd::e2e
