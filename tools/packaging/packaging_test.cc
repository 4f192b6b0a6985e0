// Checks what can be checked of the packaging without installing it: the
// AppArmor profiles compile (apparmor_parser), the SELinux modules compile
// (refpolicy's devel Makefile: m4 + checkmodule + semodule_package), the man
// page renders without warnings and documents every option `virtiofsd --help`
// lists, the vhost-user JSON is what QEMU's interop spec describes, and the
// systemd unit passes systemd-analyze.

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Runfile(const std::string& relative) {
  return std::string(getenv("TEST_SRCDIR")) + "/virtiofsd/" + relative;
}

std::string Packaging(const std::string& name) { return Runfile("tools/packaging/" + name); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr
};

Result RunCommand(const std::string& command) {
  Result result = {-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string TempDir() {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) abort();
  return dir;
}

const char* const kProcesses[] = {"virtiofsd", "virtiofsd-frontend", "virtiofsd-broker"};

TEST(AppArmorTest, EveryProfileCompiles) {
  for (const char* process : kProcesses) {
    const std::string profile = Packaging(std::string("apparmor/usr.libexec.") + process);
    Result result = RunCommand(
        "apparmor_parser --skip-kernel-load --skip-cache --skip-read-cache '" + profile + "'");
    EXPECT_EQ(result.exit_code, 0) << process << ": " << result.output;
    EXPECT_THAT(ReadFile(profile), HasSubstr(std::string("profile ") + process +
                                             " /{usr/libexec,opt/kata/libexec}/" + process + " "));
  }
}

TEST(AppArmorTest, TheCompilerRejectsABrokenProfile) {
  // Guards the test above: the tool runs and does fail.
  const std::string dir = TempDir();
  std::ofstream(dir + "/broken") << "profile broken /x {\n  capability no_such_cap,\n}\n";
  EXPECT_NE(RunCommand("apparmor_parser -Q -T -K " + dir + "/broken").exit_code, 0);
}

TEST(AppArmorTest, EachChildRunsInItsOwnProfile) {
  const std::string launcher = ReadFile(Packaging("apparmor/usr.libexec.virtiofsd"));
  EXPECT_THAT(launcher, HasSubstr("/{usr/libexec,opt/kata/libexec}/virtiofsd-frontend Px,"));
  EXPECT_THAT(launcher, HasSubstr("/{usr/libexec,opt/kata/libexec}/virtiofsd-broker Px,"));
}

// Builds NAME.pp from selinux/NAME.{te,fc} in a scratch directory.
Result BuildSelinuxModule(const std::string& name, const std::string& extra_te = "") {
  const std::string dir = TempDir();
  for (const char* ext : {".te", ".fc"}) {
    fs::copy_file(Packaging("selinux/" + name + ext), dir + "/" + name + ext);
  }
  if (!extra_te.empty()) std::ofstream(dir + "/" + name + ".te", std::ios::app) << extra_te;
  Result result =
      RunCommand("make -C " + dir + " -f /usr/share/selinux/devel/Makefile " + name + ".pp");
  if (result.exit_code == 0 && !fs::exists(dir + "/" + name + ".pp")) result.exit_code = -2;
  return result;
}

TEST(SelinuxTest, EveryModuleCompiles) {
  for (const char* module : {"virtiofsd", "virtiofsd_frontend", "virtiofsd_broker"}) {
    Result result = BuildSelinuxModule(module);
    EXPECT_EQ(result.exit_code, 0) << module << ": " << result.output;
  }
}

TEST(SelinuxTest, TheCompilerRejectsABrokenModule) {
  EXPECT_NE(BuildSelinuxModule("virtiofsd", "no_such_interface(virtiofsd_t)\n").exit_code, 0);
  EXPECT_NE(
      BuildSelinuxModule("virtiofsd", "allow virtiofsd_t self:capability frobnicate;\n").exit_code,
      0);
}

TEST(SelinuxTest, EachProcessHasItsOwnDomain) {
  const std::string launcher = ReadFile(Packaging("selinux/virtiofsd.te"));
  EXPECT_THAT(launcher, HasSubstr("domtrans_pattern(virtiofsd_t, virtiofsd_frontend_exec_t, "
                                  "virtiofsd_frontend_t)"));
  EXPECT_THAT(launcher, HasSubstr("domtrans_pattern(virtiofsd_t, virtiofsd_broker_exec_t, "
                                  "virtiofsd_broker_t)"));
  // Only the broker may touch the share's files by path.
  EXPECT_THAT(ReadFile(Packaging("selinux/virtiofsd_frontend.te")),
              ::testing::Not(HasSubstr("manage_files_pattern")));
}

TEST(VhostUserJsonTest, DescribesAnFsBackendAsTheInteropSpecSays) {
  nlohmann::json backend = nlohmann::json::parse(ReadFile(Packaging("40-virtiofsd.json")));
  EXPECT_EQ(backend["type"], "fs");
  EXPECT_EQ(backend["binary"], "/usr/libexec/virtiofsd");
  EXPECT_TRUE(backend["description"].is_string());
  for (const auto& [key, value] : backend.items()) {
    EXPECT_THAT((std::set<std::string>{"description", "type", "binary", "tags"}),
                ::testing::Contains(key));
  }
}

TEST(ManPageTest, RendersWithoutWarnings) {
  Result result = RunCommand("groff -man -ww -z '" + Packaging("virtiofsd.1") + "'");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "");
}

TEST(ManPageTest, DocumentsEveryOptionOfHelp) {
  Result help = RunCommand("'" + Runfile("launcher/virtiofsd") + "' --help");
  ASSERT_EQ(help.exit_code, 0);
  // In roff a literal '-' is written '\-'.
  const std::string man =
      std::regex_replace(ReadFile(Packaging("virtiofsd.1")), std::regex(R"(\\-)"), "-");
  std::set<std::string> options;
  const std::regex option(R"(--[a-z][a-z0-9-]*)");
  for (auto it = std::sregex_iterator(help.output.begin(), help.output.end(), option);
       it != std::sregex_iterator(); ++it) {
    options.insert(it->str());
  }
  EXPECT_GE(options.size(), 40u);  // the Rust option set
  for (const std::string& name : options) EXPECT_THAT(man, HasSubstr(name)) << name;
}

TEST(SystemdUnitTest, Verifies) {
  if (RunCommand("command -v systemd-analyze").exit_code != 0) GTEST_SKIP() << "no systemd-analyze";
  const std::string dir = TempDir();
  fs::copy_file(Packaging("virtiofsd@.service"), dir + "/virtiofsd@.service");
  Result result = RunCommand("systemd-analyze verify '" + dir + "/virtiofsd@test.service'");
  // The binary is not installed here; every other complaint is an error.
  std::stringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("/usr/libexec/virtiofsd is not executable") != std::string::npos) continue;
    ADD_FAILURE() << line;
  }
}

// systemd's own rating of the unit's confinement: "OK" (exposure below 5.0) or
// better, with every capability and namespace the three processes need left in.
TEST(SystemdUnitTest, SecurityExposureIsOkOrBetter) {
  if (RunCommand("command -v systemd-analyze").exit_code != 0) GTEST_SKIP() << "no systemd-analyze";
  const std::string dir = TempDir();
  fs::copy_file(Packaging("virtiofsd@.service"), dir + "/virtiofsd@.service");
  Result result = RunCommand("systemd-analyze security --offline=true --no-pager '" + dir +
                             "/virtiofsd@.service'");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(result.output, match,
                                std::regex(R"(Overall exposure level for \S+: ([0-9.]+) (\w+))")))
      << result.output;
  EXPECT_LT(std::stod(match[1].str()), 5.0) << match[0] << "\n" << result.output;
  EXPECT_THAT((std::set<std::string>{"OK", "SAFE", "PERFECT"}),
              ::testing::Contains(match[2].str()));
}

TEST(SystemdUnitTest, LeavesTheDaemonWhatItNeeds) {
  const std::string unit = ReadFile(Packaging("virtiofsd@.service"));
  std::smatch match;
  const std::regex bounding(R"(\nCapabilityBoundingSet=([^\n]*)\n)");
  ASSERT_TRUE(std::regex_search(unit, match, bounding));
  const std::string caps = match[1].str() + " ";
  // The broker's default set (broker/capabilities.cc) plus file handles, the
  // sandboxes (namespaces, pivot_root, chroot, bounding set, RLIMIT_NOFILE) and
  // the launcher's signals to children running as nobody.
  for (const char* cap :
       {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_SETGID", "CAP_SETUID", "CAP_MKNOD", "CAP_SETFCAP", "CAP_SYS_ADMIN", "CAP_SYS_CHROOT",
        "CAP_SETPCAP", "CAP_SYS_RESOURCE", "CAP_KILL"}) {
    EXPECT_THAT(caps, HasSubstr(std::string(cap) + " ")) << cap;
  }
  const std::regex namespaces(R"(\nRestrictNamespaces=([^\n]*)\n)");
  ASSERT_TRUE(std::regex_search(unit, match, namespaces));
  for (const char* ns : {"mnt", "pid", "net", "ipc", "uts"}) {
    EXPECT_THAT(match[1].str(), HasSubstr(ns)) << ns;
  }
  // These would break guests' chmod u+s, mknod, or the transitions into the
  // children's AppArmor/SELinux profiles.
  for (const char* setting :
       {"\nRestrictSUIDSGID=", "\nPrivateDevices=", "\nNoNewPrivileges=", "\nUser="}) {
    EXPECT_THAT(unit, ::testing::Not(HasSubstr(setting))) << setting;
  }
}

TEST(SystemdUnitTest, StopsTheLauncherOnlyAndDoesNotRestartABadCommandLine) {
  const std::string unit = ReadFile(Packaging("virtiofsd@.service"));
  EXPECT_THAT(unit, HasSubstr("KillMode=mixed"));
  EXPECT_THAT(unit, HasSubstr("RestartPreventExitStatus=2"));
  EXPECT_THAT(unit, HasSubstr("ExecStart=/usr/libexec/virtiofsd "));
}

}  // namespace
