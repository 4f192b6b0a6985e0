// Runs the real `virtiofsd` command. Until //frontend:virtiofsd-frontend and
// //broker:virtiofsd-broker exist, its children are testing/fake_child (through
// VIRTIOFSD_FRONTEND / VIRTIOFSD_BROKER), which reports what it was given.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/testing/child_report.h"
#include "launcher/testing/daemon.h"

namespace virtiofsd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using ::virtiofsd::testing::Daemon;
using ::virtiofsd::testing::MakeTempDir;
using ::virtiofsd::testing::ReadFile;
using ::virtiofsd::testing::RemoveTempDir;
using ::virtiofsd::testing::ReportValues;
using ::virtiofsd::testing::Runfile;
using ::virtiofsd::testing::WaitForReport;

class VirtiofsdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    shared_ = dir_ + "/shared";
    socket_ = dir_ + "/vfsd.sock";
    ASSERT_EQ(mkdir(shared_.c_str(), 0755), 0);
  }
  void TearDown() override { RemoveTempDir(dir_); }

  // The environment that makes the launcher run fake children.
  std::vector<std::string> FakeEnv(const std::string& frontend_mode = "wait",
                                   const std::string& broker_mode = "wait") {
    return {"VIRTIOFSD_FRONTEND=" + Runfile("launcher/fake_child"),
            "VIRTIOFSD_BROKER=" + Runfile("launcher/fake_child"), "FAKE_CHILD_REPORT_DIR=" + dir_,
            "FAKE_FRONTEND_MODE=" + frontend_mode, "FAKE_BROKER_MODE=" + broker_mode};
  }

  // FakeEnv() with the broker looked for at `path` (the first entry wins).
  std::vector<std::string> WithBrokerOverride(const std::string& path) {
    std::vector<std::string> env = {"VIRTIOFSD_BROKER=" + path};
    for (std::string& e : FakeEnv()) env.push_back(std::move(e));
    return env;
  }

  std::vector<std::string> Line(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--shared-dir=" + shared_, "--socket-path=" + socket_};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  bool WaitForSocket() {
    for (int i = 0; i < 1000; ++i) {
      struct stat st;
      if (lstat(socket_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  UniqueFd Connect() {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    socket_.copy(addr.sun_path, socket_.size());
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  std::string dir_;
  std::string shared_;
  std::string socket_;
};

TEST_F(VirtiofsdTest, BadCommandLinesExitTwoNamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "--shared-dir"},
      {Line({"--no-such-option"}), "'--no-such-option'"},
      {Line({"--cache=sometimes"}), "'--cache'"},
      {Line({"--sandbox", "jail"}), "'--sandbox'"},
      {Line({"--seccomp=allow"}), "'--seccomp'"},
      {Line({"--thread-pool-size=lots"}), "'--thread-pool-size'"},
      {Line({"--num-request-queues=0"}), "'--num-request-queues'"},
      {Line({"--num-request-queues=65"}), "'--num-request-queues'"},
      {Line({"--tag="}), "'--tag'"},
      {Line({"--modcaps=+nonsense"}), "'--modcaps'"},
      {Line({"--uid-map=0:0:1"}), "'--uid-map'"},
      {Line({"--uid-map=:0:0:1:"}), "'--uid-map' is not supported"},
      {Line({"--translate-uid=forbid-guest:0:10", "--translate-uid=guest:5:5:1"}),
       "'--translate-uid'"},
      {Line({"--security-label"}), "'--security-label' is not supported"},
      {Line({"-o", "frobnicate"}), "'-o frobnicate'"},
      {Line({"--xattr=1"}), "'--xattr'"},
      {{"--shared-dir=/srv"}, "'--socket-path'"},
      {{"--shared-dir=/srv", "--fd=3", "--socket-group=kvm"}, "'--socket-group'"},
  };
  for (const auto& [args, names] : cases) {
    Daemon daemon(dir_, args, FakeEnv());
    EXPECT_EQ(daemon.Wait(), 2) << ::testing::PrintToString(args);
    EXPECT_THAT(daemon.Stderr(), HasSubstr(names)) << ::testing::PrintToString(args);
  }
  // None of them started a child.
  EXPECT_NE(access((dir_ + "/broker.report").c_str(), F_OK), 0);
}

TEST_F(VirtiofsdTest, PrintCapabilitiesIsVhostUserJson) {
  Daemon daemon(dir_, {"--print-capabilities"});
  ASSERT_EQ(daemon.Wait(), 0);
  nlohmann::json caps = nlohmann::json::parse(daemon.Stdout());
  EXPECT_EQ(caps["type"], "fs");
  EXPECT_THAT(caps["features"].get<std::vector<std::string>>(), Contains("separate-options"));
}

TEST_F(VirtiofsdTest, HelpAndVersion) {
  Daemon help(dir_, {"--help"});
  EXPECT_EQ(help.Wait(), 0);
  EXPECT_THAT(help.Stdout(), HasSubstr("--shared-dir"));
  Daemon version(dir_, {"-V"});
  EXPECT_EQ(version.Wait(), 0);
  EXPECT_THAT(version.Stdout(), HasSubstr("virtiofsd "));
}

// The option table through the real binary: what each child's configuration
// holds (one "FIELD: VALUE" line each; fields at their zero value are not shown).
TEST_F(VirtiofsdTest, OptionsReachTheRightChild) {
  struct Case {
    std::vector<std::string> extra;
    std::vector<std::string> broker_has;
    std::vector<std::string> frontend_has;
  };
  const Case cases[] = {
      {{}, {R"(sandbox: "namespace")", R"(seccomp: "kill")"}, {R"(cache: "auto")"}},
      {{"--cache", "never"}, {}, {R"(cache: "never")", "no_readdirplus: true"}},
      {{"--tag=myfs", "--thread-pool-size=4", "--allow-mmap", "--num-request-queues=8"},
       {},
       {R"(tag: "myfs")", "thread_pool_size: 4", "allow_mmap: true", "request_queues: 8"}},
      {{"--readonly", "--sandbox=chroot", "--modcaps=-mknod:+sys_admin", "--rlimit-nofile=5000"},
       {"readonly: true", R"(sandbox: "chroot")", R"(modcaps: "-mknod")",
        R"(modcaps: "+sys_admin")", "rlimit_nofile: 5000"},
       {"rlimit_nofile: 5000"}},
      {{"--posix-acl"}, {"posix_acl: true", "xattr: true"}, {"posix_acl: true"}},
      {{"-o", "cache=always,xattr", "-d"},
       {"xattr: true", R"(log_level: "debug")"},
       {R"(cache: "always")", R"(log_level: "debug")"}},
      {{"--preserve-noatime", "--inode-file-handles=mandatory"},
       {"preserve_noatime: true", R"(inode_file_handles: "mandatory")"},
       {}},
      {{"--log-level=DEBUG"}, {R"(log_level: "debug")"}, {R"(log_level: "debug")"}},
      {{"--seccomp=trap", "--writeback", "--killpriv-v2"},
       {R"(seccomp: "trap")", "writeback: true", "killpriv_v2: true"},
       {R"(seccomp: "trap")", "writeback: true", "killpriv_v2: true"}},
  };
  for (const Case& c : cases) {
    unlink((dir_ + "/broker.report").c_str());
    unlink((dir_ + "/frontend.report").c_str());
    Daemon daemon(dir_, Line(c.extra), FakeEnv("exit:0", "wait"));
    ASSERT_EQ(daemon.Wait(), 0) << daemon.Stderr();
    std::vector<std::string> broker = ReportValues(WaitForReport(dir_, "broker"), "config");
    std::vector<std::string> frontend = ReportValues(WaitForReport(dir_, "frontend"), "config");
    EXPECT_THAT(broker, IsSupersetOf(c.broker_has)) << ::testing::PrintToString(c.extra);
    EXPECT_THAT(frontend, IsSupersetOf(c.frontend_has)) << ::testing::PrintToString(c.extra);
    EXPECT_THAT(broker, Contains("shared_dir: \"" + shared_ + "\""));
    EXPECT_THAT(frontend, Not(Contains(HasSubstr("shared_dir"))));
  }
}

TEST_F(VirtiofsdTest, NotHonouredOptionSaysSoOnce) {
  Daemon daemon(dir_, Line({"--migration-mode=find-paths", "--migration-confirm-paths"}),
                FakeEnv("exit:0", "wait"));
  ASSERT_EQ(daemon.Wait(), 0);
  const std::string err = daemon.Stderr();
  EXPECT_THAT(err, HasSubstr("not honoured"));
  EXPECT_EQ(err.find("not honoured"), err.rfind("not honoured")) << err;
}

TEST_F(VirtiofsdTest, EachChildGetsOnlyItsFds) {
  Daemon daemon(dir_, Line(), FakeEnv());
  std::vector<std::string> broker = WaitForReport(dir_, "broker");
  std::vector<std::string> frontend = WaitForReport(dir_, "frontend");
  EXPECT_THAT(ReportValues(broker, "fd"), UnorderedElementsAre("0", "1", "2", "3", "5", "6"));
  EXPECT_THAT(ReportValues(frontend, "fd"),
              UnorderedElementsAre("0", "1", "2", "3", "4", "5", "6"));
  EXPECT_THAT(ReportValues(broker, "arg"), IsEmpty());
  EXPECT_THAT(ReportValues(frontend, "arg"), IsEmpty());
  EXPECT_THAT(ReportValues(broker, "config"), IsSupersetOf({"channel_fd: 3", "launcher_fd: 5"}));
  EXPECT_THAT(ReportValues(frontend, "config"),
              IsSupersetOf({"channel_fd: 3", "listen_fd: 4", "launcher_fd: 5"}));
  EXPECT_THAT(ReportValues(broker, "channel_seqpacket"), Contains("1"));
  EXPECT_THAT(ReportValues(frontend, "channel_seqpacket"), Contains("1"));
  EXPECT_THAT(ReportValues(frontend, "fd4_listening"), Contains("1"));
  EXPECT_THAT(ReportValues(frontend, "signals_blocked"), Contains("0"));
  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.Wait(), 0);
}

TEST_F(VirtiofsdTest, VmmDisconnectEndsTheDaemonCleanly) {
  Daemon daemon(dir_, Line(), FakeEnv("serve", "wait"));
  ASSERT_TRUE(WaitForSocket());
  ASSERT_FALSE(WaitForReport(dir_, "frontend").empty());
  struct stat st;
  ASSERT_EQ(lstat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(socket_ + ".pid"), std::to_string(daemon.pid()) + "\n");
  { UniqueFd vmm = Connect(); }  // the VMM goes away
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("VMM disconnected"));
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "socket left behind";
  EXPECT_NE(access((socket_ + ".pid").c_str(), F_OK), 0) << "pid file left behind";
}

TEST_F(VirtiofsdTest, StopSignalsExitZero) {
  for (int signal : {SIGTERM, SIGINT}) {
    unlink((dir_ + "/frontend.report").c_str());
    Daemon daemon(dir_, Line(), FakeEnv());
    ASSERT_FALSE(WaitForReport(dir_, "frontend").empty());
    ASSERT_EQ(kill(daemon.pid(), signal), 0);
    EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
    EXPECT_THAT(daemon.Stderr(), HasSubstr(std::string("received SIG") + sigabbrev_np(signal)));
    EXPECT_NE(access(socket_.c_str(), F_OK), 0);
  }
}

TEST_F(VirtiofsdTest, KillingEitherChildEndsTheDaemonNamingIt) {
  for (const std::string role : {"broker", "frontend"}) {
    unlink((dir_ + "/broker.report").c_str());
    unlink((dir_ + "/frontend.report").c_str());
    Daemon daemon(dir_, Line(), FakeEnv());
    std::vector<std::string> report = WaitForReport(dir_, role);
    ASSERT_FALSE(WaitForReport(dir_, role == "broker" ? "frontend" : "broker").empty());
    const std::vector<std::string> pid = ReportValues(report, "pid");
    ASSERT_EQ(pid.size(), 1u);
    ASSERT_EQ(kill(std::stoi(pid[0]), SIGKILL), 0);
    EXPECT_EQ(daemon.Wait(), 1);
    EXPECT_THAT(daemon.Stderr(), HasSubstr(role + " was killed by signal 9 (SIGKILL)"));
  }
}

TEST_F(VirtiofsdTest, ChildRejectingItsOptionsExitsTwo) {
  Daemon daemon(dir_, Line(), FakeEnv("wait", "exit:2"));
  EXPECT_EQ(daemon.Wait(), 2);
  EXPECT_THAT(daemon.Stderr(), HasSubstr("broker exited with status 2"));
}

TEST_F(VirtiofsdTest, SecondDaemonOnTheSameSocketFails) {
  Daemon first(dir_, Line(), FakeEnv());
  ASSERT_TRUE(WaitForSocket());
  const std::string second_dir = dir_ + "/second";
  ASSERT_EQ(mkdir(second_dir.c_str(), 0755), 0);
  Daemon second(second_dir, Line(), FakeEnv());
  EXPECT_EQ(second.Wait(), 1);
  EXPECT_THAT(second.Stderr(), HasSubstr("another virtiofsd"));
  // The first daemon's socket is untouched.
  UniqueFd vmm = Connect();
  kill(first.pid(), SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
}

TEST_F(VirtiofsdTest, ListeningFdFromTheCaller) {
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  socket_.copy(addr.sun_path, socket_.size());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  Daemon daemon(dir_, {"--shared-dir=" + shared_, "--fd=" + std::to_string(listener.get())},
                FakeEnv("serve", "wait"), listener.get());
  std::vector<std::string> frontend = WaitForReport(dir_, "frontend");
  EXPECT_THAT(ReportValues(frontend, "fd4_listening"), Contains("1"));
  EXPECT_THAT(ReportValues(frontend, "config"), Contains("listen_fd: 4"));
  { UniqueFd vmm = Connect(); }
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
}

TEST_F(VirtiofsdTest, StartupFailuresExitOneWithAReason) {
  const std::string missing = dir_ + "/missing";
  const std::vector<std::tuple<std::vector<std::string>, std::vector<std::string>, std::string>>
      cases = {
          {{"--shared-dir=" + missing, "--socket-path=" + socket_}, FakeEnv(), missing},
          {Line({"--socket-group=no-such-group-virtiofsd"}), FakeEnv(), "no-such-group-virtiofsd"},
          // The directory the user must create is named, not our .pid file in it.
          {{"--shared-dir=" + shared_, "--socket-path=" + dir_ + "/no/such/dir.sock"},
           FakeEnv(),
           "directory " + dir_ + "/no/such of the socket path does not exist"},
          {{"--shared-dir=" + shared_, "--fd=1000"}, FakeEnv(), "--fd=1000"},
          {Line(), WithBrokerOverride("/nonexistent/broker"), "/nonexistent/broker"},
      };
  for (const auto& [args, env, reason] : cases) {
    Daemon daemon(dir_, args, env);
    EXPECT_EQ(daemon.Wait(), 1) << reason;
    EXPECT_THAT(daemon.Stderr(), HasSubstr(reason));
  }
}

}  // namespace
}  // namespace virtiofsd
