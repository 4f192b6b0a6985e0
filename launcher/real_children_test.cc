// Runs `virtiofsd` with its real children (data dependencies of
// //launcher:virtiofsd) and checks, from outside in /proc, that each runs its own
// executable and is confined; and that the daemon's supervision holds with them.
// Tagged "local": Bazel's sandbox maps only root in its user namespace, and the
// frontend becomes nobody (65534).

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/child_config.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "launcher/child_configs.h"
#include "launcher/child_process.h"
#include "launcher/listen_socket.h"
#include "launcher/options.h"
#include "launcher/testing/child_report.h"
#include "launcher/testing/daemon.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::virtiofsd::testing::Daemon;
using ::virtiofsd::testing::MakeTempDir;
using ::virtiofsd::testing::RemoveTempDir;
using ::virtiofsd::testing::Runfile;

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

uint64_t ProcCaps(pid_t pid, const std::string& key) {
  return std::stoull(ProcStatus(pid, key), nullptr, 16);
}

std::string ExeOf(pid_t pid) {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
}

// Every descendant of `pid`, parents before children.
std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> all;
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                         "/children");
  for (pid_t child; children >> child;) {
    all.push_back(child);
    for (pid_t grandchild : Descendants(child)) all.push_back(grandchild);
  }
  return all;
}

// Polls (10 s at most) for the last descendant running `executable` that
// `ready` accepts; -1 if none shows up.
pid_t WaitForProcess(pid_t daemon, const std::string& executable,
                     const std::function<bool(pid_t)>& ready) {
  for (int i = 0; i < 1000; ++i) {
    pid_t found = -1;
    for (pid_t pid : Descendants(daemon)) {
      if (ExeOf(pid).ends_with("/" + executable) && ready(pid)) found = pid;
    }
    if (found > 0) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

bool Filtered(pid_t pid) { return ProcStatus(pid, "Seccomp") == "2"; }

// The broker that serves: filtered and holding capabilities. In namespace mode
// without the privilege to make it a pid namespace, the process the launcher
// started waits outside the one it makes, filtered too but without any capability.
bool ServingBroker(pid_t pid) {
  return Filtered(pid) && ProcStatus(pid, "CapEff") != "0000000000000000";
}

// The frontend is confined but for its seccomp filter, which it puts in force
// once it has accepted the VMM's connection.
bool WaitsForTheVmm(pid_t pid) { return ProcStatus(pid, "NoNewPrivs") == "1"; }

// "Max open files" or another row of /proc/PID/limits: "soft hard".
std::string Limit(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) == 0) {
      std::istringstream fields(line.substr(name.size()));
      std::string soft, hard;
      fields >> soft >> hard;
      return soft + " " + hard;
    }
  }
  return "";
}

std::string Namespace(pid_t pid, const std::string& kind) {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + kind, error);
}

class RealChildrenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (getuid() != 0) GTEST_SKIP() << "the children drop privileges only when started as root";
    dir_ = MakeTempDir();
    shared_ = dir_ + "/shared";
    socket_ = dir_ + "/vfsd.sock";
    ASSERT_EQ(mkdir(shared_.c_str(), 0755), 0);
    args_ = {"--shared-dir=" + shared_, "--socket-path=" + socket_};
#ifdef __SANITIZE_ADDRESS__
    // The sanitizer runtime makes syscalls the allow-lists do not have: log
    // them instead of dying. The filters are installed all the same.
    args_.push_back("--seccomp=log");
    // LeakSanitizer reads /proc/PID/task at exit, which the broker's pivot_root
    // sandbox has no more: it would turn every clean broker exit into status 1.
    env_.push_back("ASAN_OPTIONS=detect_leaks=0");
#endif
  }
  void TearDown() override {
    if (!dir_.empty()) RemoveTempDir(dir_);
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
  std::vector<std::string> args_;
  std::vector<std::string> env_;
};

TEST_F(RealChildrenTest, EachProcessRunsConfinedInItsOwnExecutable) {
  Daemon daemon(dir_, args_, env_);
  const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker);
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  ASSERT_GT(broker, 0) << daemon.Stderr();

  // Three executables.
  EXPECT_THAT(ExeOf(daemon.pid()), HasSubstr("/launcher/virtiofsd"));
  EXPECT_NE(ExeOf(frontend), ExeOf(broker));

  // The frontend: an identity of its own, nothing to escalate with.
  const std::string id = std::to_string(0x7f000000 + daemon.pid());
  EXPECT_EQ(ProcStatus(frontend, "Uid"), id + "\t" + id + "\t" + id + "\t" + id);
  EXPECT_EQ(ProcStatus(frontend, "Gid"), id + "\t" + id + "\t" + id + "\t" + id);
  EXPECT_EQ(ProcCaps(frontend, "CapEff"), 0u);
  EXPECT_EQ(ProcCaps(frontend, "CapPrm"), 0u);
  EXPECT_EQ(ProcCaps(frontend, "CapBnd"), 0u);
  EXPECT_EQ(ProcStatus(frontend, "NoNewPrivs"), "1");

  // The broker: at most the Rust virtiofsd's file capabilities (and
  // DAC_READ_SEARCH for file handles); never the ones that escape a sandbox.
  constexpr uint64_t kFileCaps = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) |
                                 (1u << 6) | (1u << 7) | (1u << 27) | (1ull << 31);
  EXPECT_EQ(ProcCaps(broker, "CapEff") & ~kFileCaps, 0u) << ProcStatus(broker, "CapEff");
  EXPECT_EQ(ProcCaps(broker, "CapPrm") & ~kFileCaps, 0u) << ProcStatus(broker, "CapPrm");
  EXPECT_EQ(ProcStatus(broker, "NoNewPrivs"), "1");

  // The launcher stays as started: it holds no guest-facing state.
  EXPECT_THAT(ProcStatus(daemon.pid(), "Uid"), StartsWith("0\t"));
  EXPECT_EQ(ProcStatus(daemon.pid(), "Seccomp"), "0");

  // The frontend's filter is in force once the VMM is connected.
  UniqueFd vmm = Connect();
  EXPECT_GT(WaitForProcess(daemon.pid(), "virtiofsd-frontend", Filtered), 0);

  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("received SIGTERM"));
}

// Two instances share nothing a compromised frontend could use against the other:
// each frontend has its own uid/gid and is init of its own PID namespace (it can
// name no other process); its threads are capped by RLIMIT_NPROC, and its
// RLIMIT_NOFILE is the broker's.
TEST_F(RealChildrenTest, EachFrontendHasItsOwnIdentityPidNamespaceAndLimits) {
  args_.push_back("--rlimit-nofile=5000");
  const std::string other_dir = MakeTempDir();
  std::vector<std::string> other_args = {"--shared-dir=" + shared_,
                                         "--socket-path=" + other_dir + "/vfsd.sock"};
  Daemon daemon(dir_, args_, env_);
  Daemon other(other_dir, other_args, env_);
  const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  const pid_t other_frontend = WaitForProcess(other.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker);
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  ASSERT_GT(other_frontend, 0) << other.Stderr();
  ASSERT_GT(broker, 0) << daemon.Stderr();

  EXPECT_NE(ProcStatus(frontend, "Uid"), ProcStatus(other_frontend, "Uid"));
  EXPECT_NE(ProcStatus(frontend, "Gid"), ProcStatus(other_frontend, "Gid"));
  EXPECT_NE(Namespace(frontend, "pid"), Namespace(daemon.pid(), "pid"));
  EXPECT_NE(Namespace(frontend, "pid"), Namespace(other_frontend, "pid"));
  EXPECT_THAT(ProcStatus(frontend, "NSpid"), ::testing::EndsWith("\t1"));
  // main, the broker client's receiver, hiprio + one request queue: 4 threads,
  // and room for one queue thread being replaced.
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(Limit(frontend, "Max processes"), "11 11");  // + the sanitizer's tasks
#else
  EXPECT_EQ(Limit(frontend, "Max processes"), "7 7");
#endif
  EXPECT_EQ(Limit(frontend, "Max open files"), "5000 5000");
  EXPECT_EQ(Limit(broker, "Max open files"), "5000 5000");

  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  ASSERT_EQ(kill(other.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_EQ(other.Wait(), 0) << other.Stderr();
  RemoveTempDir(other_dir);
}

// In every sandbox mode the launcher has two children and neither forks. In
// namespace mode the broker is pid 1 of a pid namespace of its own and in mount,
// net, ipc and uts namespaces of its own; it catches SIGTERM, which a pid 1
// would otherwise ignore, so the launcher stops it without SIGKILL.
TEST_F(RealChildrenTest, TwoChildrenInEachSandboxModeWithTheBrokerInItsNamespaces) {
  for (const std::string mode : {"namespace", "chroot", "none"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> args = args_;
    args.push_back("--sandbox=" + mode);
    Daemon daemon(dir_, args, env_);
    const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
    const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker);
    ASSERT_GT(frontend, 0) << daemon.Stderr();
    ASSERT_GT(broker, 0) << daemon.Stderr();

    std::vector<pid_t> tree = Descendants(daemon.pid());
    std::sort(tree.begin(), tree.end());
    EXPECT_EQ(tree, (std::vector<pid_t>{std::min(frontend, broker), std::max(frontend, broker)}));
    EXPECT_EQ(ProcStatus(broker, "PPid"), std::to_string(daemon.pid()));
    EXPECT_EQ(ProcStatus(broker, "Seccomp"), "2");
    EXPECT_NE(ProcCaps(broker, "SigCgt") & (1u << (SIGTERM - 1)), 0u);
    if (mode == "namespace") {
      EXPECT_THAT(ProcStatus(broker, "NSpid"), ::testing::EndsWith("\t1"));
      for (const char* kind : {"pid", "mnt", "net", "ipc", "uts"}) {
        EXPECT_NE(Namespace(broker, kind), Namespace(daemon.pid(), kind)) << kind;
      }
    } else {
      EXPECT_EQ(Namespace(broker, "pid"), Namespace(daemon.pid(), "pid"));
    }
    EXPECT_NE(Namespace(broker, "pid"), Namespace(frontend, "pid"));

    ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
    EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  }
}

// "PID/TID state voluntary nonvoluntary" for every thread of `pids`, one a line:
// the same text twice means no thread ran in between.
std::string ThreadActivity(const std::vector<pid_t>& pids) {
  std::string text;
  for (pid_t pid : pids) {
    std::error_code error;
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    std::vector<std::string> tids;
    for (const auto& entry : std::filesystem::directory_iterator(tasks, error)) {
      tids.push_back(entry.path().filename());
    }
    std::sort(tids.begin(), tids.end());
    for (const std::string& tid : tids) {
      std::ifstream stat(tasks + "/" + tid + "/stat");
      std::string line;
      std::getline(stat, line);
      const size_t comm_end = line.rfind(')');
      const char state = comm_end + 2 < line.size() ? line[comm_end + 2] : '?';
      std::ifstream status(tasks + "/" + tid + "/status");
      std::string switches;
      for (std::string row; std::getline(status, row);) {
        if (row.find("ctxt_switches:") != std::string::npos) switches += " " + row;
      }
      absl::StrAppend(&text, pid, "/", tid, " ", std::string(1, state), switches, "\n");
    }
  }
  return text;
}

// Idle, waiting for a VMM or serving one that sends nothing, no thread of the
// daemon runs or wakes up: each sleeps, and no context switch counts in a window.
// A few windows are allowed for start-up to finish.
TEST_F(RealChildrenTest, IdleThreadsSleepWithoutWakingUp) {
  Daemon daemon(dir_, args_, env_);
  ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm), 0)
      << daemon.Stderr();
  ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker), 0) << daemon.Stderr();
  UniqueFd vmm;
  for (const bool vmm_connected : {false, true}) {
    SCOPED_TRACE(vmm_connected ? "serving a VMM" : "waiting for a VMM");
    if (vmm_connected) {
      vmm = Connect();
      ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-frontend", Filtered), 0);
    }
    std::vector<pid_t> tree = Descendants(daemon.pid());
    tree.push_back(daemon.pid());
    std::string before, after;
    for (int window = 0; window < 5; ++window) {
      before = ThreadActivity(tree);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      after = ThreadActivity(tree);
      if (before == after) break;
    }
    EXPECT_EQ(before, after);
    EXPECT_EQ(after.find(" R"), std::string::npos) << after;
    EXPECT_EQ(after.find(" D"), std::string::npos) << after;
    EXPECT_NE(after.find(" S"), std::string::npos) << after;
  }
  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
}

TEST_F(RealChildrenTest, VmmDisconnectEndsTheDaemonCleanly) {
  Daemon daemon(dir_, args_, env_);
  ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm), 0)
      << daemon.Stderr();
  ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker), 0) << daemon.Stderr();
  { UniqueFd vmm = Connect(); }
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_NE(access(socket_.c_str(), F_OK), 0);
}

TEST_F(RealChildrenTest, KillingEitherChildEndsTheDaemonNamingIt) {
  for (const std::string role : {"broker", "frontend"}) {
    Daemon daemon(dir_, args_, env_);
    const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
    ASSERT_GT(frontend, 0) << daemon.Stderr();
    ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker), 0)
        << daemon.Stderr();
    // The broker the launcher started (it may have forked into a pid namespace).
    const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", [&](pid_t pid) {
      return ProcStatus(pid, "PPid") == std::to_string(daemon.pid());
    });
    ASSERT_EQ(kill(role == "broker" ? broker : frontend, SIGKILL), 0);
    EXPECT_EQ(daemon.Wait(), 1) << daemon.Stderr();
    EXPECT_THAT(daemon.Stderr(), HasSubstr(role + " was killed by signal 9 (SIGKILL)"));
  }
}

TEST_F(RealChildrenTest, BadXattrRulesAndAFileAsShareAreRefusedBeforeAnyChildStarts) {
  // The launcher checks --xattrmap with the broker's own parser.
  std::vector<std::string> bad_rules = args_;
  bad_rules.push_back("--xattrmap=this is not a rule");
  Daemon rules(dir_, bad_rules, env_);
  EXPECT_EQ(rules.Wait(), 2) << rules.Stderr();
  EXPECT_THAT(rules.Stderr(), HasSubstr("error: '--xattrmap'"));
  EXPECT_THAT(rules.Stderr(), Not(HasSubstr("broker")));
  EXPECT_THAT(rules.Stderr(), Not(HasSubstr("frontend")));

  // A regular file is not a share: one line, exit 2.
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "x";
  Daemon daemon(dir_, {"--shared-dir=" + file, "--socket-path=" + socket_}, env_);
  EXPECT_EQ(daemon.Wait(), 2) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr(file + " is not a directory"));
  const std::string said = daemon.Stderr();
  EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 1) << said;
  EXPECT_NE(access(socket_.c_str(), F_OK), 0);
}

// A system logger as a test plays it: a datagram socket at `path` that the
// launcher is pointed at (VIRTIOFSD_SYSLOG_SOCKET).
class FakeSyslog {
 public:
  explicit FakeSyslog(std::string path) : path_(std::move(path)) { Bind(); }
  ~FakeSyslog() { unlink(path_.c_str()); }

  // syslogd restarting: the old socket goes away, a new one appears at the path.
  void Restart() {
    fd_.Reset();
    unlink(path_.c_str());
    seen_.clear();
    Bind();
  }

  // Waits (10 s at most) for a message containing `text`; returns it, or "".
  std::string WaitFor(const std::string& text) {
    for (const std::string& line : seen_) {
      if (line.find(text) != std::string::npos) return line;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd = {fd_.get(), POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      char buffer[8192];
      const ssize_t n = recv(fd_.get(), buffer, sizeof(buffer), 0);
      if (n <= 0) continue;
      seen_.emplace_back(buffer, n);
      if (seen_.back().find(text) != std::string::npos) return seen_.back();
    }
    return "";
  }

  std::string All() const {
    std::string all;
    for (const std::string& line : seen_) all += line + "\n";
    return all;
  }

 private:
  void Bind() {
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << strerror(errno);
  }

  std::string path_;
  UniqueFd fd_;
  std::vector<std::string> seen_;
};

TEST_F(RealChildrenTest, SyslogGoesThroughTheLauncherNamingEachProcessAndItsHostPid) {
  FakeSyslog syslog(dir_ + "/log");
  args_.push_back("--syslog");
  env_.push_back("VIRTIOFSD_SYSLOG_SOCKET=" + dir_ + "/log");
  Daemon daemon(dir_, args_, env_);
  const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker);
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  ASSERT_GT(broker, 0) << daemon.Stderr();
  // Each line names its process and host pid; the children are confined (seccomp
  // on, no socket()) and still log.
  EXPECT_THAT(syslog.WaitFor(absl::StrCat("virtiofsd-frontend[", frontend,
                                          "]: waiting for the vhost-user front-end")),
              StartsWith("<30>"))
      << syslog.All() << daemon.Stderr();
  EXPECT_NE(syslog.WaitFor(absl::StrCat("virtiofsd-broker[", broker, "]: serving ")), "")
      << syslog.All() << daemon.Stderr();
  EXPECT_NE(syslog.WaitFor(absl::StrCat("virtiofsd[", daemon.pid(), "]: started broker")), "")
      << syslog.All();

  // syslogd restarts: the next lines reach the new socket.
  syslog.Restart();
  { UniqueFd vmm = Connect(); }
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_NE(
      syslog.WaitFor(absl::StrCat("virtiofsd-frontend[", frontend, "]: front-end disconnected")),
      "")
      << syslog.All() << daemon.Stderr();
  EXPECT_NE(syslog.WaitFor(absl::StrCat("virtiofsd[", daemon.pid(), "]: ")), "") << syslog.All();
  EXPECT_THAT(daemon.Stderr(), Not(HasSubstr("INFO"))) << "every line went to syslog";
}

TEST_F(RealChildrenTest, StderrLinesNameEachProcessWithItsHostPid) {
  Daemon daemon(dir_, args_, env_);
  const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  // The serving broker, which may be pid 1 of a pid namespace of its own.
  const pid_t broker = WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker);
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  ASSERT_GT(broker, 0) << daemon.Stderr();
  { UniqueFd vmm = Connect(); }
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(),
              HasSubstr(absl::StrCat("virtiofsd-broker[", broker, "] INFO serving")));
  EXPECT_THAT(daemon.Stderr(), HasSubstr(absl::StrCat("virtiofsd-frontend[", frontend,
                                                      "] INFO front-end connected")));
}

TEST_F(RealChildrenTest, SyslogWithoutALoggerFallsBackToStderrWithOneWarning) {
  args_.push_back("--syslog");
  env_.push_back("VIRTIOFSD_SYSLOG_SOCKET=" + dir_ + "/no-logger-here");
  Daemon daemon(dir_, args_, env_);
  const pid_t frontend = WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm);
  ASSERT_GT(frontend, 0) << daemon.Stderr();
  ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker), 0) << daemon.Stderr();
  { UniqueFd vmm = Connect(); }
  EXPECT_EQ(daemon.Wait(), 0) << daemon.Stderr();
  const std::string err = daemon.Stderr();
  EXPECT_THAT(
      err, HasSubstr(absl::StrCat("virtiofsd-frontend[", frontend, "] INFO front-end connected")));
  EXPECT_THAT(err, HasSubstr("virtiofsd-broker["));
  EXPECT_EQ(err.find("cannot connect to syslog"), err.rfind("cannot connect to syslog")) << err;
  EXPECT_THAT(err, HasSubstr("cannot connect to syslog"));
}

// Whether `pid` has exited (gone, or a zombie nobody reaped yet).
bool Gone(pid_t pid) {
  const std::string state = ProcStatus(pid, "State");
  return state.empty() || state[0] == 'Z';
}

// Polls (10 s at most) until every pid in `pids` is gone.
bool AllGone(const std::vector<pid_t>& pids) {
  for (int i = 0; i < 1000; ++i) {
    if (std::all_of(pids.begin(), pids.end(), Gone)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(RealChildrenTest, ChildrenDieWithTheLauncherEvenByKill) {
  for (const bool vmm_connected : {false, true}) {
    SCOPED_TRACE(vmm_connected ? "serving a VMM" : "waiting for a VMM");
    Daemon daemon(dir_, args_, env_);
    ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-frontend", WaitsForTheVmm), 0)
        << daemon.Stderr();
    ASSERT_GT(WaitForProcess(daemon.pid(), "virtiofsd-broker", ServingBroker), 0)
        << daemon.Stderr();
    UniqueFd vmm;
    if (vmm_connected) vmm = Connect();
    const std::vector<pid_t> children = Descendants(daemon.pid());
    ASSERT_GE(children.size(), 2u);
    // Kata stops the daemon this way.
    ASSERT_EQ(kill(daemon.pid(), SIGKILL), 0);
    EXPECT_EQ(daemon.Wait(), 128 + SIGKILL);
    EXPECT_TRUE(AllGone(children)) << "left running: " << [&] {
      std::string left;
      for (pid_t pid : children) {
        if (!Gone(pid)) left += absl::StrCat(pid, " ", ExeOf(pid), "; ");
      }
      return left;
    }();
  }
}

// A VMM depends on the frontend once connected, and QEMU cannot reconnect: when
// the broker goes, the frontend says so once, serves on (every request EIO; see
// tests/integration) and exits 1 when the VMM disconnects.
TEST_F(RealChildrenTest, FrontendServingAVmmOutlivesTheBrokerAndExitsOneWithTheVmm) {
  // The two executables started as the launcher starts them, with the test
  // holding the launcher's ends, so no supervisor stops the frontend for us.
  absl::StatusOr<Command> command = ParseCommandLine(args_);
  ASSERT_TRUE(command.ok()) << command.status();
  int channel[2], broker_link[2], frontend_link[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, broker_link), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, frontend_link), 0);
  UniqueFd channel_ends[] = {UniqueFd(channel[0]), UniqueFd(channel[1])};
  UniqueFd launcher_ends[] = {UniqueFd(broker_link[0]), UniqueFd(frontend_link[0])};
  UniqueFd child_ends[] = {UniqueFd(broker_link[1]), UniqueFd(frontend_link[1])};
  absl::StatusOr<ListenSocket> listener = CreateListenSocket(socket_, std::nullopt);
  ASSERT_TRUE(listener.ok()) << listener.status();
  command->options.shared_dir = shared_;
  absl::StatusOr<UniqueFd> broker_config = ConfigMemfd(BrokerConfigFor(command->options));
  ASSERT_TRUE(broker_config.ok()) << broker_config.status();
  absl::StatusOr<UniqueFd> frontend_config =
      ConfigMemfd(FrontendConfigFor(command->options, FrontendIdentity{}));
  ASSERT_TRUE(frontend_config.ok()) << frontend_config.status();
  const FdMapping broker_fds[] = {{channel_ends[0].get(), kChildChannelFd},
                                  {child_ends[0].get(), kChildLauncherFd},
                                  {broker_config->get(), kChildConfigFd}};
  absl::StatusOr<ChildProcess> broker =
      ChildProcess::Spawn(Runfile("broker/virtiofsd-broker"), {}, broker_fds);
  ASSERT_TRUE(broker.ok()) << broker.status();
  const FdMapping frontend_fds[] = {{channel_ends[1].get(), kChildChannelFd},
                                    {listener->fd.get(), kFrontendListenFd},
                                    {child_ends[1].get(), kChildLauncherFd},
                                    {frontend_config->get(), kChildConfigFd}};
  absl::StatusOr<ChildProcess> frontend =
      ChildProcess::Spawn(Runfile("frontend/virtiofsd-frontend"), {}, frontend_fds);
  ASSERT_TRUE(frontend.ok()) << frontend.status();
  for (UniqueFd& fd : channel_ends) fd.Reset();
  for (UniqueFd& fd : child_ends) fd.Reset();
  listener->fd.Reset();

  // A VMM connects; then the broker (the one serving, which may be in a pid
  // namespace of its own) dies.
  UniqueFd vmm = Connect();
  // One exchange (GET_FEATURES) shows the frontend serving the connection.
  const uint32_t get_features[3] = {1, 1, 0};  // request, flags (version 1), size
  ASSERT_EQ(write(vmm.get(), get_features, sizeof(get_features)), 12);
  char reply[20];
  ASSERT_EQ(recv(vmm.get(), reply, sizeof(reply), MSG_WAITALL), 20);
  const pid_t serving = WaitForProcess(getpid(), "virtiofsd-broker", ServingBroker);
  ASSERT_GT(serving, 0);
  ASSERT_EQ(kill(serving, SIGKILL), 0);
  // Its log lines come over its launcher link: wait for the one about the broker.
  std::string said;
  while (said.find("every request fails from now on") == std::string::npos) {
    pollfd link = {launcher_ends[1].get(), POLLIN, 0};
    ASSERT_EQ(poll(&link, 1, 10000), 1) << "the frontend did not notice the broker's end: " << said;
    char record[4096];
    const ssize_t n = recv(launcher_ends[1].get(), record, sizeof(record), 0);
    ASSERT_GT(n, 0) << "the frontend's link closed: " << said;
    said.append(record, n).append("\n");
  }
  pollfd pfd = {frontend->pidfd(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0) << "the frontend left the VMM when the broker went";
  vmm.Reset();  // the VMM disconnects
  ASSERT_EQ(poll(&pfd, 1, 10000), 1) << "the frontend outlived the VMM";
  std::optional<ChildExit> exit = frontend->TryReap();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->kind, ChildExit::Kind::kExited);
  EXPECT_EQ(exit->value, 1);
}

// Each child started by hand, not by virtiofsd: with no configuration, a mangled
// one, or arguments, it says why and exits 2 before doing anything.
TEST_F(RealChildrenTest, ChildrenStartedByHandExitTwo) {
  for (const char* path : {"broker/virtiofsd-broker", "frontend/virtiofsd-frontend"}) {
    const std::string good = EncodeConfig(proto::BrokerConfig());
    absl::StatusOr<UniqueFd> truncated = SealedMemfd(good.substr(0, good.size() / 2));
    ASSERT_TRUE(truncated.ok());
    const FdMapping mangled[] = {{truncated->get(), kChildConfigFd}};
    for (auto [args, fds] :
         {std::pair(std::vector<std::string>{}, absl::Span<const FdMapping>()),
          std::pair(std::vector<std::string>{}, absl::MakeSpan(mangled)),
          std::pair(std::vector<std::string>{"--help"}, absl::Span<const FdMapping>())}) {
      absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(Runfile(path), args, fds);
      ASSERT_TRUE(child.ok()) << child.status();
      pollfd pfd = {child->pidfd(), POLLIN, 0};
      ASSERT_EQ(poll(&pfd, 1, 10000), 1) << path << " did not exit";
      std::optional<ChildExit> exit = child->TryReap();
      ASSERT_TRUE(exit.has_value());
      EXPECT_EQ(exit->kind, ChildExit::Kind::kExited) << path;
      EXPECT_EQ(exit->value, 2) << path << " with " << fds.size() << " fds, " << args.size()
                                << " arguments";
    }
  }
}

// Starts `virtiofsd args` as root of a new user namespace that maps ids
// 0..65535 to host ids 100000..165535, as `lxc-usernsexec -m b:0:100000:65536`
// (or podman unshare with a subuid range) would. stderr goes to `err`. Returns
// the pid (the launcher's, the namespace's root). `launcher` must be reachable
// by host uid 100000.
pid_t SpawnInUserNamespace(const std::string& launcher, const std::vector<std::string>& args,
                           const std::string& err) {
  int ready[2], mapped[2];
  if (pipe(ready) != 0 || pipe(mapped) != 0) return -1;
  std::vector<std::string> argv_storage = {launcher};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    char byte = 0;
    if (unshare(CLONE_NEWUSER) != 0 || write(ready[1], &byte, 1) != 1 ||
        read(mapped[0], &byte, 1) != 1 || setresgid(0, 0, 0) != 0 || setgroups(0, nullptr) != 0 ||
        setresuid(0, 0, 0) != 0) {
      _exit(120);
    }
#ifdef __SANITIZE_ADDRESS__
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);  // as in SetUp()
#endif
    const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(121);
  }
  char byte;
  if (read(ready[0], &byte, 1) != 1) return pid;
  for (const char* map : {"uid_map", "gid_map"}) {
    std::ofstream("/proc/" + std::to_string(pid) + "/" + map) << "0 100000 65536\n";
  }
  (void)!write(mapped[1], &byte, 1);
  for (int fd : {ready[0], ready[1], mapped[0], mapped[1]}) close(fd);
  return pid;
}

int WaitExit(pid_t pid) {
  for (int i = 0; i < 2000; ++i) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// Without root: the README's podman unshare / lxc-usernsexec modes, with the
// sandbox modes that need no privilege outside the user namespace.
TEST_F(RealChildrenTest, RunsAsRootOfAUserNamespace) {
  ASSERT_EQ(chown(dir_.c_str(), 100000, 100000), 0);
  ASSERT_EQ(chown(shared_.c_str(), 100000, 100000), 0);
  // The runfiles live under root's home: install the three executables side by
  // side where the namespace's root can reach them, as a package would.
  const std::string bin = dir_ + "/bin";
  ASSERT_EQ(mkdir(bin.c_str(), 0755), 0);
  for (const char* path :
       {"launcher/virtiofsd", "frontend/virtiofsd-frontend", "broker/virtiofsd-broker"}) {
    const std::string name = std::filesystem::path(path).filename();
    std::filesystem::copy_file(Runfile(path), bin + "/" + name);
    ASSERT_EQ(chmod((bin + "/" + name).c_str(), 0755), 0);
  }
  for (const char* sandbox : {"chroot", "none"}) {
    std::vector<std::string> args = args_;
    args.push_back(std::string("--sandbox=") + sandbox);
    const std::string err = dir_ + "/stderr";
    const pid_t daemon = SpawnInUserNamespace(bin + "/virtiofsd", args, err);
    ASSERT_GT(daemon, 0);
    const pid_t frontend = WaitForProcess(daemon, "virtiofsd-frontend", WaitsForTheVmm);
    ASSERT_GT(frontend, 0) << sandbox << ": " << testing::ReadFile(err);
    ASSERT_GT(WaitForProcess(daemon, "virtiofsd-broker", ServingBroker), 0)
        << testing::ReadFile(err);
    // nobody of the namespace is host uid 165534; the socket belongs to its root.
    EXPECT_THAT(ProcStatus(frontend, "Uid"), StartsWith("165534\t"));
    struct stat st;
    ASSERT_EQ(lstat(socket_.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 100000u);
    { UniqueFd vmm = Connect(); }
    EXPECT_EQ(WaitExit(daemon), 0) << sandbox << ": " << testing::ReadFile(err);
  }
}

}  // namespace
}  // namespace virtiofsd
