// The broker is killed under a running guest, with the real executables and the TCG
// guest. QEMU 7.2 cannot reconnect a vhost-user-fs back-end, so the frontend serves
// on:
// - Restarted (tests/e2e/fault_broker_restarted.sh): SIGKILL; the launcher starts a
//   new broker and the guest carries on: a file held open keeps being written, a
//   working directory two levels down still works, files are listed, read, created,
//   fsync'd and removed; the daemon exits 0 when QEMU goes.
// - Restarts exhausted (tests/e2e/fault_broker_killed.sh): SIGSYS (how a seccomp
//   violation ends it) to every broker until the launcher starts no more (3 within
//   a minute): every later request fails with EIO and returns, the guest unmounts
//   and powers off, the daemon exits 1 when QEMU goes.
// In both, each broker's end is logged once and what the guest fsync'd before is on
// the host byte for byte. One guest boot each (~15-60 s under TCG).

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
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

// The broker that serves (the last one found: a broker that makes its own PID
// namespace, when the launcher cannot, leaves a process outside it that waits for
// the serving one). -1 if none.
pid_t ServingBroker(pid_t run_guest) {
  pid_t serving = -1;
  for (pid_t pid : Descendants(run_guest)) {
    if (ExeName(pid) == "virtiofsd-broker") serving = pid;
  }
  return serving;
}

// Sends `signal` to the serving broker and waits (20 s at most) for it to end;
// what it did, or why it could not.
std::string KillBroker(pid_t run_guest, int signal) {
  const pid_t serving = ServingBroker(run_guest);
  if (serving < 0) return "no broker to kill";
  if (kill(serving, signal) != 0) return absl::StrCat("kill: ", strerror(errno));
  for (int i = 0; i < 1000 && !Ended(serving); ++i) usleep(20'000);
  return absl::StrCat("sent SIG", sigabbrev_np(signal), " to the broker");
}

// Waits (20 s at most) for a broker other than `old` to serve.
bool AwaitNewBroker(pid_t run_guest, pid_t old) {
  for (int i = 0; i < 1000; ++i) {
    const pid_t serving = ServingBroker(run_guest);
    if (serving > 0 && serving != old && !Ended(serving)) return true;
    usleep(20'000);
  }
  return false;
}

FaultRunOptions Options(const std::string& name, const std::string& sandbox,
                        const std::string& script) {
  const std::string share = Env("TEST_TMPDIR", "/tmp") + "/share-" + name;
  EXPECT_EQ(mkdir(share.c_str(), 0755), 0) << strerror(errno);
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  FaultRunOptions options;
  options.name = name;
  options.daemon =
      absl::StrCat(ours, " --socket-path={socket} --shared-dir={dir} --sandbox=", sandbox);
  options.share = share;
  options.script = script;
  options.trigger = ".kill-broker";
  return options;
}

void ExpectSyncedFilesIntact(const FaultRun& run, const std::string& share,
                             const std::string& context) {
  for (int i = 1; i <= 3; ++i) {
    const std::string name = absl::StrCat("synced-", i);
    ASSERT_TRUE(run.cases.contains(name)) << context;
    absl::StatusOr<std::string> md5 = Md5OfFile(share + "/" + name);
    ASSERT_TRUE(md5.ok()) << md5.status();
    EXPECT_EQ(*md5, run.cases.at(name)) << name;
  }
}

std::string Contents(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(BrokerRestartedTest, GuestCarriesOnAcrossAKilledBroker) {
  FaultRunOptions options =
      Options("Restarted", "namespace", "tests/e2e/fault_broker_restarted.sh");
  const std::string share = options.share;
  options.act = [share](pid_t run_guest) -> std::string {
    const pid_t old = ServingBroker(run_guest);
    std::string acted = KillBroker(run_guest, SIGKILL);
    if (!AwaitNewBroker(run_guest, old)) return acted + "; no new broker";
    // Tells the guest (which may still get EIO for a moment, until the frontend
    // has the new channel) to go on.
    std::ofstream(share + "/.broker-restarted") << "1";
    return acted + "; a new broker serves";
  };
  const FaultRun run = RunFaultGuest(options);
  ASSERT_EQ(run.error, "") << run.log;
  const std::string context = absl::StrCat("run_guest.sh:\n", run.log, "\nguest:\n", run.output,
                                           "\ndaemon:\n", run.daemon_log);
  EXPECT_EQ(run.acted, "sent SIGKILL to the broker; a new broker serves") << context;
  for (const char* name :
       {"restarted", "held-write", "ls", "cat", "create", "mkdir", "fsync", "stat", "rm", "cwd"}) {
    auto it = run.cases.find(name);
    EXPECT_TRUE(it != run.cases.end() && it->second == "ok")
        << name << ": " << (it == run.cases.end() ? "no CASE line" : it->second) << "\n"
        << context;
  }
  EXPECT_TRUE(run.cases.contains("DONE")) << context;
  EXPECT_THAT(run.console, HasSubstr("VIRTIOFSD-GUEST: exit=0")) << context;
  EXPECT_THAT(run.console, Not(HasSubstr("umount failed"))) << run.console;
  // The guest lost nothing: the daemon ends as if the broker had never died.
  EXPECT_THAT(run.log, HasSubstr("qemu exit 0, guest script exit 0, daemon exit 0")) << context;
  EXPECT_EQ(run.exit_code, 0) << context;
  // Logged once: how the broker ended and that a new one started (launcher), that
  // the frontend serves through it.
  EXPECT_EQ(Count(run.daemon_log, "broker was killed by signal 9 (SIGKILL); started a new broker"), 1)
      << run.daemon_log;
  EXPECT_EQ(Count(run.daemon_log, "serving through a new broker"), 1) << run.daemon_log;

  ExpectSyncedFilesIntact(run, share, context);
  EXPECT_EQ(Contents(share + "/held-open"), "before\nafter\n");
  EXPECT_EQ(Contents(share + "/after-kill"), "new\n");
  struct stat st;
  EXPECT_EQ(stat((share + "/new-dir/synced-after").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4 * 65536);
  EXPECT_NE(stat((share + "/doomed").c_str(), &st), 0);
}

struct Kill {
  std::string name;
  int signal;
  std::string sandbox;
  std::string logged;  // how the launcher names the broker's end
};

void PrintTo(const Kill& kill, std::ostream* os) { *os << kill.name; }

class BrokerKilledTest : public ::testing::TestWithParam<Kill> {};

// The launcher restarts a dead broker 3 times a minute: the 4th death is for good.
constexpr int kKills = 4;

TEST_P(BrokerKilledTest, GuestGetsEioOnceRestartsAreExhausted) {
  const Kill& param = GetParam();
  FaultRunOptions options = Options(param.name, param.sandbox, "tests/e2e/fault_broker_killed.sh");
  const std::string share = options.share;
  options.act = [signal = param.signal](pid_t run_guest) -> std::string {
    std::string acted;
    for (int i = 0; i < kKills; ++i) {
      const pid_t old = ServingBroker(run_guest);
      acted = KillBroker(run_guest, signal);
      if (i + 1 < kKills && !AwaitNewBroker(run_guest, old)) return acted + "; no new broker";
    }
    return acted;
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

  // Logged once per broker: how it ended (launcher), what it means (frontend); then
  // that no more are started.
  EXPECT_EQ(Count(run.daemon_log, param.logged), kKills) << run.daemon_log;
  EXPECT_EQ(Count(run.daemon_log, "started a new broker"), kKills - 1) << run.daemon_log;
  EXPECT_EQ(Count(run.daemon_log, "3 restarts within 1m, no more"), 1) << run.daemon_log;
  // The frontend says it once per channel that served: a broker killed before its
  // handshake never did.
  EXPECT_GE(Count(run.daemon_log, "every request fails from now on"), 1) << run.daemon_log;
  EXPECT_LE(Count(run.daemon_log, "every request fails from now on"), kKills) << run.daemon_log;
  EXPECT_LE(Count(run.daemon_log, " ERROR "), 4 * kKills) << run.daemon_log;

  // Fsync'd before the kill: intact.
  ExpectSyncedFilesIntact(run, share, context);
}

INSTANTIATE_TEST_SUITE_P(
    Signals, BrokerKilledTest,
    ::testing::Values(
        // The restart case above kills a broker in its PID namespace; this one a
        // broker without one (both are the launcher's children).
        Kill{"Sigsys", SIGSYS, "chroot", "broker was killed by signal 31 (SIGSYS)"}),
    [](const ::testing::TestParamInfo<Kill>& info) { return info.param.name; });

}  // namespace
}  // namespace virtiofsd::e2e
