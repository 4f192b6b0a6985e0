// The broker is killed while the guest writes (tests/e2e/fault_broker_killed.sh), by
// SIGKILL and by SIGSYS (how a seccomp violation ends it), with the real executables
// and the TCG guest. QEMU 7.2 cannot reconnect a vhost-user-fs back-end, so the
// frontend must serve on: every later request fails with EIO and returns, the guest
// unmounts and powers off, the cause is logged once, the daemon exits 1 when QEMU
// goes, and what the guest fsync'd before is on the host byte for byte.
// One guest boot per signal (~15-30 s each under TCG).

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/fault_run.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/md5.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Kill {
  std::string name;
  int signal;
  std::string sandbox;
  std::string logged;  // how the launcher names the broker's end
};

void PrintTo(const Kill& kill, std::ostream* os) { *os << kill.name; }

class BrokerKilledTest : public ::testing::TestWithParam<Kill> {};

TEST_P(BrokerKilledTest, GuestGetsEioUnmountsAndSyncedFilesAreIntact) {
  const Kill& param = GetParam();
  const std::string share = Env("TEST_TMPDIR", "/tmp") + "/share-" + param.name;
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0) << strerror(errno);
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  FaultRunOptions options;
  options.name = param.name;
  options.daemon =
      absl::StrCat(ours, " --socket-path={socket} --shared-dir={dir} --sandbox=", param.sandbox);
  options.share = share;
  options.script = "tests/e2e/fault_broker_killed.sh";
  options.trigger = ".kill-broker";
  options.act = [signal = param.signal](pid_t run_guest) -> std::string {
    // The broker that serves is the last one (a broker that makes its own PID
    // namespace leaves a process outside it that waits for the serving one).
    pid_t serving = -1;
    for (pid_t pid : Descendants(run_guest)) {
      if (ExeName(pid) == "virtiofsd-broker") serving = pid;
    }
    if (serving < 0) return "no broker to kill";
    if (kill(serving, signal) != 0) return absl::StrCat("kill: ", strerror(errno));
    return absl::StrCat("sent SIG", sigabbrev_np(signal), " to the broker");
  };
  const FaultRun run = RunFaultGuest(options);
  ASSERT_EQ(run.error, "") << run.log;
  const std::string context = absl::StrCat("run_guest.sh:\n", run.log, "\nguest:\n", run.output,
                                           "\ndaemon:\n", run.daemon_log);
  EXPECT_THAT(run.acted, HasSubstr("sent SIG")) << run.acted;

  // The guest: the writer and every later access failed with EIO and returned;
  // the script ran to its end, the share was unmounted, the guest powered off.
  for (const char* name : {"writer", "ls", "cat", "create", "mkdir", "stat", "rm", "ls-again"}) {
    auto it = run.cases.find(name);
    EXPECT_TRUE(it != run.cases.end() && it->second == "EIO")
        << name << ": " << (it == run.cases.end() ? "no CASE line" : it->second) << "\n"
        << context;
  }
  EXPECT_TRUE(run.cases.contains("DONE")) << context;
  EXPECT_THAT(run.console, HasSubstr("VIRTIOFSD-GUEST: exit=0")) << context;
  EXPECT_THAT(run.console, Not(HasSubstr("umount failed"))) << run.console;
  // QEMU ended on its own; the daemon stayed until it did, then exited 1 (so
  // run_guest.sh reports a failed daemon, and only that).
  EXPECT_THAT(run.log, HasSubstr("qemu exit 0, guest script exit 0, daemon exit 1 ")) << context;
  EXPECT_THAT(run.log, Not(HasSubstr("the daemon left before the guest was done"))) << context;
  EXPECT_EQ(run.exit_code, 1) << context;

  // Logged once: how the broker ended (launcher), what it means (frontend).
  EXPECT_EQ(Count(run.daemon_log, param.logged), 1) << run.daemon_log;
  EXPECT_EQ(Count(run.daemon_log, "every request fails from now on"), 1) << run.daemon_log;
  EXPECT_LE(Count(run.daemon_log, " ERROR "), 4) << run.daemon_log;

  // Fsync'd before the kill: intact.
  for (int i = 1; i <= 3; ++i) {
    const std::string name = absl::StrCat("synced-", i);
    ASSERT_TRUE(run.cases.contains(name)) << context;
    absl::StatusOr<std::string> md5 = Md5OfFile(share + "/" + name);
    ASSERT_TRUE(md5.ok()) << md5.status();
    EXPECT_EQ(*md5, run.cases.at(name)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Signals, BrokerKilledTest,
    ::testing::Values(
        // The serving broker is PID 1 of the namespace the launcher made for it.
        Kill{"Sigkill", SIGKILL, "namespace", "broker was killed by signal 9 (SIGKILL)"},
        // Without a PID namespace the serving broker is the launcher's child.
        Kill{"Sigsys", SIGSYS, "chroot", "broker was killed by signal 31 (SIGSYS)"}),
    [](const ::testing::TestParamInfo<Kill>& info) { return info.param.name; });

}  // namespace
}  // namespace virtiofsd::e2e
