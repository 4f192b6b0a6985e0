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

namespace virtiofsd::e2e {
namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* value = getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string Runfile(const std::string& path) {
  return Env("TEST_SRCDIR", ".") + "/" + Env("TEST_WORKSPACE", "virtiofsd") + "/" + path;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command` with sh; its stdout, and its exit status in `status`.
std::string RunShell(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int raw = pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

// CASE lines of a translate.sh run, by case name; "DONE" maps to "" when it ended.
std::map<std::string, std::string> ParseCases(const std::string& output) {
  std::map<std::string, std::string> cases;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line == "DONE") cases["DONE"] = "";
    if (!absl::ConsumePrefix(&line, "CASE ")) continue;
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) continue;
    cases[std::string(line.substr(0, space))] = std::string(line.substr(space + 1));
  }
  return cases;
}

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
  const std::string output =
      RunShell(absl::StrCat(ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ",
                            ShellQuote(daemon), " --shared-dir ", ShellQuote(share), " --script ",
                            ShellQuote(Runfile("tests/e2e/translate.sh")), " --guest-dir ",
                            ShellQuote(Env("VIRTIOFSD_GUEST_DIR", "/var/cache/virtiofsd-guest")),
                            " --timeout 300 --log ", ShellQuote(logs), " 2>&1"),
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
