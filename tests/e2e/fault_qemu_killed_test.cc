// QEMU is killed (SIGKILL) while the guest keeps the daemon busy
// (tests/e2e/fault_qemu_killed.sh), with the real executables and the TCG guest:
// the daemon exits on its own, leaves no process, socket or pid file behind, and a
// new daemon starts on the same socket path at once. One guest boot (~15-30 s).

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/fault_run.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool IsDaemonExe(const std::string& name) {
  return name == "virtiofsd" || name == "virtiofsd-frontend" || name == "virtiofsd-broker";
}

// Polls (10 s at most) until `done` holds.
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

bool ConnectAndHangUp(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

TEST(QemuKilledTest, DaemonExitsLeavingNothingAndANewOneStartsAtOnce) {
  // Not TEST_TMPDIR: a UNIX socket path must fit in 108 bytes.
  char dir_template[] = "/tmp/vfsd-qemu-killed-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string share = dir + "/share";
  const std::string socket_path = dir + "/vfsd.sock";
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0);
  struct Remove {
    const std::string& path;
    ~Remove() {
      int status;
      RunShell("rm -rf " + ShellQuote(path), status);
    }
  } remove{dir};
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));

  std::vector<pid_t> daemon_pids;
  FaultRunOptions options;
  options.name = "qemu_killed";
  options.daemon = absl::StrCat(Runfile("tests/e2e/fault_socket_link.sh"), " {socket} ",
                                socket_path, " ", ours, " --shared-dir={dir}");
  options.share = share;
  options.script = "tests/e2e/fault_qemu_killed.sh";
  options.trigger = ".kill-qemu";
  options.act = [&daemon_pids](pid_t run_guest) -> std::string {
    pid_t qemu = -1;
    for (pid_t pid : Descendants(run_guest)) {
      const std::string exe = ExeName(pid);
      if (exe.rfind("qemu-system", 0) == 0) qemu = pid;
      if (IsDaemonExe(exe)) daemon_pids.push_back(pid);
    }
    if (qemu < 0) return "no QEMU to kill";
    if (kill(qemu, SIGKILL) != 0) return absl::StrCat("kill: ", strerror(errno));
    return "killed QEMU";
  };
  const FaultRun run = RunFaultGuest(options);
  ASSERT_EQ(run.error, "") << run.log;
  const std::string context = absl::StrCat("run_guest.sh:\n", run.log, "\nguest:\n", run.output,
                                           "\ndaemon:\n", run.daemon_log);
  ASSERT_EQ(run.acted, "killed QEMU") << context;
  // launcher, frontend, and one or two broker processes (namespace sandbox).
  EXPECT_GE(daemon_pids.size(), 3u) << context;

  // The daemon went on its own (run_guest.sh stops one that stays) with status 0:
  // it cannot tell a killed VMM from one that disconnected.
  EXPECT_THAT(run.log, HasSubstr("qemu exit 137, guest script exit none, daemon exit 0 "))
      << context;
  EXPECT_THAT(run.log, Not(HasSubstr("after our SIGTERM"))) << context;
  EXPECT_THAT(run.daemon_log, HasSubstr("VMM disconnected")) << context;

  // Nothing left: no process, no socket, no pid file.
  std::vector<pid_t> left;
  Eventually([&] {
    left.clear();
    for (pid_t pid : daemon_pids) {
      if (!Ended(pid)) left.push_back(pid);
    }
    return left.empty();
  });
  EXPECT_THAT(left, IsEmpty()) << "left running\n" << context;
  EXPECT_FALSE(Exists(socket_path)) << "socket left behind";
  EXPECT_FALSE(Exists(socket_path + ".pid")) << "pid file left behind";

  // A new daemon on the same path, at once: it listens, and a VMM that connects
  // and goes ends it cleanly.
  const std::string err = dir + "/second.log";
  const pid_t second = fork();
  ASSERT_GE(second, 0);
  if (second == 0) {
    freopen(err.c_str(), "w", stderr);
    const std::string socket_arg = "--socket-path=" + socket_path;
    const std::string share_arg = "--shared-dir=" + share;
    execl(ours.c_str(), ours.c_str(), socket_arg.c_str(), share_arg.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  EXPECT_TRUE(Eventually(
      [&] { return Exists(socket_path) || waitpid(second, &status, WNOHANG) == second; }));
  EXPECT_TRUE(ConnectAndHangUp(socket_path)) << ReadFile(err);
  EXPECT_TRUE(Eventually([&] { return waitpid(second, &status, WNOHANG) == second; }))
      << ReadFile(err);
  if (kill(second, 0) == 0) {
    kill(second, SIGKILL);
    waitpid(second, &status, 0);
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(err);
  EXPECT_THAT(ReadFile(err), HasSubstr("VMM disconnected"));
}

}  // namespace
}  // namespace virtiofsd::e2e
