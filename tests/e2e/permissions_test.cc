// Permission conformance with a real guest: tests/e2e/permissions.sh runs file
// operations as several non-root users with several supplementary groups
// (tests/e2e/perm_helper.c), once on the host in a temp dir (the reference: what a
// local filesystem answers) and once in the guest per daemon configuration. Every
// case must give the host's answer through ours; QEMU's C virtiofsd runs too, and
// its differences are printed with their reasons without failing the test.
//
// Ours runs in three configurations, one guest boot each: --cache auto, never and
// always, with --killpriv-v2 on, off and on.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {
namespace {

constexpr char kQemuVirtiofsd[] = "/usr/lib/qemu/virtiofsd";

// Cases QEMU's C virtiofsd answers differently from a local filesystem, and why.
const std::map<std::string, std::string> kQemuDifferences = {
    {"create_in_dir_of_supplementary_group",
     "creates as the caller's uid/gid without its supplementary groups (no capabilities): "
     "EACCES"},
    {"open_trunc_setuid_by_non_owner",
     "opens with O_TRUNC as root with CAP_FSETID (the guest asks for an atomic O_TRUNC and "
     "sends no chmod of its own): the set-id bits stay"},
    {"create_gs_in_setgid_dir_via_group",
     "creates without the caller's supplementary groups: the host clears the S_ISGID the "
     "guest kernel kept for a member of the directory's group"},
};

// Cases where ours differs from a local filesystem on purpose, and why.
const std::map<std::string, std::string> kOurDifferences = {};

// A fresh directory holding the helper, where permissions.sh runs.
std::string MakeWorkDir(const std::string& name) {
  const std::string dir = Env("TEST_TMPDIR", "/tmp") + "/" + name;
  mkdir(dir.c_str(), 0755);
  chmod(dir.c_str(), 0755);
  int status;
  RunShell(absl::StrCat("cp ", ShellQuote(Runfile("tests/e2e/perm_helper")), " ",
                        ShellQuote(dir + "/perm_helper"), " && chmod 0755 ",
                        ShellQuote(dir + "/perm_helper")),
           status);
  EXPECT_EQ(status, 0) << "cannot copy the helper into " << dir;
  return dir;
}

const std::map<std::string, std::string>& HostCases() {
  static const auto* cases = [] {
    const std::string dir = MakeWorkDir("host");
    int status;
    const std::string output =
        RunShell(absl::StrCat("cd ", ShellQuote(dir), " && sh ",
                              ShellQuote(Runfile("tests/e2e/permissions.sh"))),
                 status);
    EXPECT_EQ(status, 0) << output;
    return new std::map<std::string, std::string>(ParseCases(output));
  }();
  return *cases;
}

struct Daemon {
  std::string name;
  std::string command;  // {socket} and {dir} filled in by run_guest.sh
};
void PrintTo(const Daemon& daemon, std::ostream* os) { *os << daemon.name; }

std::vector<Daemon> Daemons() {
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  const std::string base = ours + " --socket-path={socket} --shared-dir={dir} --xattr";
  return {
      {"OursCacheAutoKillprivV2", base + " --cache=auto --killpriv-v2"},
      {"OursCacheNever", base + " --cache=never --no-killpriv-v2"},
      {"OursCacheAlwaysKillprivV2", base + " --cache=always --killpriv-v2"},
      {"QemuC", absl::StrCat(kQemuVirtiofsd,
                             " --socket-path={socket} -o source={dir} -o cache=auto -o xattr")},
  };
}

std::map<std::string, std::string> GuestCases(const Daemon& daemon, std::string& log) {
  const std::string guest_dir = GuestDir();
  const std::string share = MakeWorkDir("share-" + daemon.name);
  const std::string logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", Env("TEST_TMPDIR", "/tmp")) +
                           "/permissions-" + daemon.name;
  mkdir(logs.c_str(), 0755);
  int status;
  const std::string output = RunShell(
      absl::StrCat(ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ",
                   ShellQuote(daemon.command), " --shared-dir ", ShellQuote(share), " --script ",
                   ShellQuote(Runfile("tests/e2e/permissions.sh")), " --guest-dir ",
                   ShellQuote(guest_dir), " --timeout 300 --log ", ShellQuote(logs), " 2>&1"),
      status);
  log = output;
  EXPECT_EQ(status, 0) << output;
  return ParseCases(output);
}

class PermissionsTest : public ::testing::TestWithParam<Daemon> {};

TEST_P(PermissionsTest, GuestUsersGetTheHostsAnswers) {
  const Daemon& daemon = GetParam();
  const bool qemu = daemon.name == "QemuC";
  const std::map<std::string, std::string>& host = HostCases();
  ASSERT_TRUE(host.count("DONE")) << "the host run did not finish";
  std::string log;
  const std::map<std::string, std::string> guest = GuestCases(daemon, log);
  ASSERT_TRUE(guest.count("DONE")) << "the guest run did not finish:\n" << log;
  const auto& known = qemu ? kQemuDifferences : kOurDifferences;
  for (const auto& [name, expected] : host) {
    auto it = guest.find(name);
    const std::string got = it == guest.end() ? "(missing)" : it->second;
    if (got == expected) continue;
    auto reason = known.find(name);
    if (reason != known.end()) {
      std::cout << daemon.name << ": known difference " << name << ": host '" << expected
                << "', guest '" << got << "': " << reason->second << "\n";
      continue;
    }
    if (qemu) {
      std::cout << daemon.name << ": unexplained difference " << name << ": host '" << expected
                << "', guest '" << got << "'\n";
      continue;
    }
    ADD_FAILURE() << name << ": host '" << expected << "', guest '" << got << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Daemons, PermissionsTest, ::testing::ValuesIn(Daemons()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace virtiofsd::e2e
