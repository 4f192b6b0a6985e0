// Runs `virtiofsd` with its real children and checks how each is confined, as
// seen from outside in /proc. Tagged "local": Bazel's sandbox maps only root in
// its user namespace, and the frontend becomes nobody (65534).
//
// TODO(launcher): once //broker:virtiofsd-broker is on main, run it here too
// instead of fake_child, and check its uid, capabilities and seccomp state.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/testing/child_report.h"
#include "launcher/testing/daemon.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::Daemon;
using ::virtiofsd::testing::MakeTempDir;
using ::virtiofsd::testing::RemoveTempDir;
using ::virtiofsd::testing::Runfile;
using ::virtiofsd::testing::WaitForReport;

// "Key:\tvalue" of /proc/PID/status.
std::string ProcStatus(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string value = line.substr(key.size() + 1);
      return value.substr(value.find_first_not_of(" \t"));
    }
  }
  return "";
}

std::string ExeOf(pid_t pid) {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
}

// The real frontend (a data dependency of //launcher:virtiofsd) with the fake
// broker: the frontend confines itself before its first broker request, so its
// confinement can be seen while it waits for the (silent) fake broker.
TEST(RealChildrenTest, FrontendRunsConfinedInItsOwnExecutable) {
  if (getuid() != 0) GTEST_SKIP() << "the frontend drops to nobody only when started as root";
  const std::string dir = MakeTempDir();
  const std::string shared = dir + "/shared";
  ASSERT_EQ(mkdir(shared.c_str(), 0755), 0);
  std::vector<std::string> env = {"VIRTIOFSD_BROKER=" + Runfile("launcher/fake_child"),
                                  "FAKE_CHILD_REPORT_DIR=" + dir};
  std::vector<std::string> args = {"--shared-dir=" + shared, "--socket-path=" + dir + "/vfsd.sock"};
#ifdef __SANITIZE_ADDRESS__
  // The sanitizer runtime makes syscalls the frontend's allow-list does not
  // have: log them instead of dying. The filter is installed all the same.
  args.push_back("--seccomp=log");
#endif
  Daemon daemon(dir, args, env);
  ASSERT_FALSE(WaitForReport(dir, "broker").empty());
  pid_t frontend = -1;
  for (int i = 0; i < 1000 && frontend < 0; ++i) {
    std::ifstream children("/proc/" + std::to_string(daemon.pid()) + "/task/" +
                           std::to_string(daemon.pid()) + "/children");
    for (pid_t pid; children >> pid;) {
      if (ExeOf(pid).ends_with("/virtiofsd-frontend") && ProcStatus(pid, "Seccomp") == "2") {
        frontend = pid;
      }
    }
    if (frontend < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  EXPECT_THAT(ProcStatus(frontend, "Uid"), ::testing::StartsWith("65534\t65534\t65534"));
  EXPECT_THAT(ProcStatus(frontend, "Gid"), ::testing::StartsWith("65534\t65534\t65534"));
  EXPECT_EQ(ProcStatus(frontend, "CapEff"), "0000000000000000");
  EXPECT_EQ(ProcStatus(frontend, "CapPrm"), "0000000000000000");
  EXPECT_EQ(ProcStatus(frontend, "CapBnd"), "0000000000000000");
  EXPECT_EQ(ProcStatus(frontend, "NoNewPrivs"), "1");
  EXPECT_EQ(ProcStatus(frontend, "Seccomp"), "2");
  // The launcher itself stays as it was started, and is not the frontend.
  EXPECT_NE(ExeOf(daemon.pid()), ExeOf(frontend));
  EXPECT_THAT(ProcStatus(daemon.pid(), "Uid"), ::testing::StartsWith("0\t"));

  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  RemoveTempDir(dir);
}

}  // namespace
}  // namespace virtiofsd
