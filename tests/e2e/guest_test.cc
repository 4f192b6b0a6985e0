// End-to-end test with a real guest: for each virtio-fs daemon under test, boots the
// Debian 6.1 test guest (tools/guest/prepare.sh makes it) under QEMU with
// tools/guest/run_guest.sh, runs tests/e2e/everyday.sh in the mounted share, then compares
// the guest's manifest of the share with the host's view of the same directory, one test
// per aspect, and checks the host sees what the script was meant to leave behind.
//
// Daemons: QEMU's C virtiofsd (the reference), and ours when its binary is there: the runfile
// launcher/virtiofsd (add "//launcher:virtiofsd" to this test's data) or $VIRTIOFSD_E2E_OURS.
// The guest kernel and initramfs come from $VIRTIOFSD_GUEST_DIR (default
// /var/cache/virtiofsd-guest); when they are missing every test fails saying so.

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/manifest.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kQemuVirtiofsd[] = "/usr/lib/qemu/virtiofsd";

// A daemon command line: {socket} and {dir} are filled in by run_guest.sh.
struct Daemon {
  std::string name;  // a test-name suffix
  std::string command;
};

// Test names show the daemon's name, not its bytes.
void PrintTo(const Daemon& daemon, std::ostream* os) { *os << daemon.name; }

std::vector<Daemon> DaemonsUnderTest() {
  // QEMU's C daemon always: if it is missing, its tests fail (tools/setup.sh installs it).
  std::vector<Daemon> daemons = {
      {"QemuC", absl::StrCat(kQemuVirtiofsd,
                             " --socket-path={socket} -o source={dir} -o cache=auto -o xattr")}};
  // Ours when built: the env var wins (and must name an existing file, or the tests fail).
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  if (getenv("VIRTIOFSD_E2E_OURS") != nullptr || Exists(ours)) {
    daemons.push_back(
        {"Ours", ours + " --socket-path={socket} --shared-dir={dir} --cache=auto --xattr"});
  }
  return daemons;
}

// One guest run per daemon, shared by that daemon's tests.
struct GuestRun {
  std::string error;   // why there is nothing to compare; empty when the run happened
  int exit_code = -1;  // run_guest.sh's
  std::string output;  // the guest script's
  std::string log;     // run_guest.sh's stderr (summary, and diagnostics on failure)
  std::string share;
  GuestReport report;
  Manifest host;
};

GuestRun RunGuest(const Daemon& daemon) {
  GuestRun run;
  run.error = MissingGuest();
  if (!run.error.empty()) return run;
  const std::string guest_dir = GuestDir();
  const std::string tmp = Env("TEST_TMPDIR", "/tmp");
  const std::string logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", tmp) + "/" + daemon.name;
  run.share = tmp + "/share-" + daemon.name;
  mkdir(logs.c_str(), 0755);
  if (mkdir(run.share.c_str(), 0755) != 0) {
    run.error = "cannot make " + run.share;
    return run;
  }
  const std::string command = absl::StrCat(
      ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ", ShellQuote(daemon.command),
      " --shared-dir ", ShellQuote(run.share), " --script ",
      ShellQuote(Runfile("tests/e2e/everyday.sh")), " --guest-dir ", ShellQuote(guest_dir),
      " --timeout 300 --log ", ShellQuote(logs), " 2>", ShellQuote(logs + "/run_guest.stderr"));
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    run.error = "popen failed";
    return run;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.output.append(buf, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.log = ReadFile(logs + "/run_guest.stderr");
  std::cerr << "[" << daemon.name << "] run_guest.sh:\n" << run.log;

  absl::StatusOr<GuestReport> report = ParseGuestOutput(run.output);
  if (!report.ok()) {
    run.error = "guest output: " + report.status().ToString();
    return run;
  }
  run.report = *std::move(report);
  absl::StatusOr<Manifest> host = ScanHostTree(run.share);
  if (!host.ok()) {
    run.error = "host view: " + host.status().ToString();
    return run;
  }
  run.host = *std::move(host);
  return run;
}

class GuestTest : public ::testing::TestWithParam<Daemon> {
 protected:
  // The run for this test's daemon, made by the first test that asks.
  static const GuestRun& Result(const Daemon& daemon) {
    static auto* runs = new std::map<std::string, GuestRun>();
    auto it = runs->find(daemon.name);
    if (it == runs->end()) it = runs->emplace(daemon.name, RunGuest(daemon)).first;
    return it->second;
  }
  // The run, or nullptr after recording a failure that says why it cannot be compared.
  const GuestRun* Compared() {
    const GuestRun& run = Result(GetParam());
    if (!run.error.empty()) {
      ADD_FAILURE() << run.error << " (GuestScriptPasses shows the run's log)";
      return nullptr;
    }
    if (!run.report.manifest_complete) {
      ADD_FAILURE()
          << "the guest printed no complete manifest (GuestScriptPasses shows its output)";
      return nullptr;
    }
    return &run;
  }
  void ExpectSame(Field field) {
    const GuestRun* run = Compared();
    if (run == nullptr) return;
    EXPECT_THAT(FieldDifferences(run->report.manifest, run->host, field), IsEmpty());
  }
  std::string Path(const std::string& rel) { return Result(GetParam()).share + "/" + rel; }
};

TEST_P(GuestTest, GuestScriptPasses) {
  const GuestRun& run = Result(GetParam());
  ASSERT_EQ(run.error, "") << "run_guest.sh said:\n" << run.log << "\nguest:\n" << run.output;
  EXPECT_EQ(run.exit_code, 0) << "run_guest.sh said:\n" << run.log << "\nguest:\n" << run.output;
  EXPECT_THAT(run.report.failed, IsEmpty()) << run.output;
  // Steps that must have run (not merely not failed).
  for (const char* step : {"create", "readdir sees all", "rename over a file", "hard link",
                           "chown 1000:1000", "setxattr", "write 64 MiB", "md5 after reread"}) {
    EXPECT_THAT(run.report.passed, Contains(step));
  }
  EXPECT_TRUE(run.report.manifest_complete);
  EXPECT_THAT(run.report.manifest_errors, IsEmpty()) << "errors while listing the share";
}

TEST_P(GuestTest, SamePaths) {
  const GuestRun* run = Compared();
  if (run == nullptr) return;
  EXPECT_THAT(PathDifferences(run->report.manifest, run->host), IsEmpty());
}

TEST_P(GuestTest, SameTypes) { ExpectSame(Field::kType); }
TEST_P(GuestTest, SameModes) { ExpectSame(Field::kMode); }
TEST_P(GuestTest, SameOwners) { ExpectSame(Field::kOwner); }
TEST_P(GuestTest, SameSizes) { ExpectSame(Field::kSize); }
TEST_P(GuestTest, SameLinkCounts) { ExpectSame(Field::kNlink); }
TEST_P(GuestTest, SameSymlinkTargets) { ExpectSame(Field::kTarget); }
TEST_P(GuestTest, SameContents) { ExpectSame(Field::kMd5); }
TEST_P(GuestTest, SameXattrs) { ExpectSame(Field::kXattrs); }

// The host's own view against what everyday.sh was meant to leave: catches a daemon that
// shows the guest a consistent story that is not what is on disk.
TEST_P(GuestTest, HostHoldsTheExpectedTree) {
  const GuestRun* run = Compared();
  if (run == nullptr) return;
  const Manifest& h = run->host;
  auto text = [&](const std::string& rel, Field f) {
    auto it = h.find(rel);
    return it == h.end() ? std::string("<missing>") : FieldText(it->second, f);
  };
  EXPECT_EQ(ReadFile(Path("hello.txt")), "heXYo\nworld\n");
  EXPECT_EQ(text("hello.txt", Field::kMode), "0640");
  EXPECT_EQ(text("hello.txt", Field::kNlink), "2");
  EXPECT_EQ(text("hello.txt", Field::kXattrs), "user.color=blue");
  struct stat a, b;
  ASSERT_EQ(stat(Path("hello.txt").c_str(), &a), 0);
  ASSERT_EQ(stat(Path("hello-link.txt").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hello-link.txt is not a hard link of hello.txt";
  EXPECT_EQ(text("hello-sym", Field::kTarget), "hello.txt");
  EXPECT_EQ(text("hello-sym", Field::kOwner), "77:88");
  EXPECT_EQ(ReadFile(Path("short.txt")), "0123");
  EXPECT_EQ(text("short.txt", Field::kOwner), "0:42");
  EXPECT_EQ(text("sparse.bin", Field::kSize), "200003");
  EXPECT_EQ(ReadFile(Path("sparse.bin")).substr(199990), std::string(10, '\0') + "end");
  EXPECT_EQ(ReadFile(Path("docs/plan.txt")), "draft\n");
  EXPECT_EQ(text("docs/plan.txt", Field::kOwner), "1000:1000");
  EXPECT_EQ(ReadFile(Path("docs/target.txt")), "new\n");
  EXPECT_EQ(text("docs", Field::kMode), "0751");
  EXPECT_EQ(text("docs", Field::kXattrs), "user.kind=folder");
  EXPECT_EQ(text("docs/archive", Field::kType), "d");
  EXPECT_EQ(text("docs/archive", Field::kOwner), "1234:5678");
  EXPECT_EQ(text("docs/dangling", Field::kTarget), "../no/such/file");
  EXPECT_EQ(text("archive-link", Field::kTarget), "docs/archive");
  EXPECT_EQ(text("pipe", Field::kType), "p");
  EXPECT_EQ(text("sticky", Field::kMode), "1777");
  EXPECT_EQ(text("setuid.sh", Field::kMode), "4755");
  EXPECT_EQ(text("big.bin", Field::kSize), "67108864");
  EXPECT_EQ(ReadFile(Path("many/file-299")), "299\n");
  int many = 0;
  for (const auto& [path, entry] : h) many += path.rfind("many/", 0) == 0;
  EXPECT_EQ(many, 300);
  for (const char* gone : {"gone.txt", "docs/source.txt", "docs/drafts", "docs/big-copy.bin"}) {
    EXPECT_FALSE(h.contains(gone)) << gone << " should have been removed or renamed";
  }
}

// The harness itself: a daemon that dies mid-run must fail the run (and promptly: QEMU is
// stopped then, not at the timeout), and a missing guest must say how to make one.
// With `own_mount`, the share is a tmpfs of its own (a filesystem root, where
// file handles cannot reach beyond it).
int RunGuestScript(const std::string& daemon, const std::string& script,
                   const std::string& guest_dir, std::string* log,
                   const std::string& extra_args = "", bool own_mount = false) {
  const std::string tmp = Env("TEST_TMPDIR", "/tmp");
  static int runs = 0;
  const std::string share = absl::StrCat(tmp, "/harness-share-", ++runs);
  mkdir(share.c_str(), 0755);
  if (own_mount && mount("share", share.c_str(), "tmpfs", 0, "mode=0755,size=256m") != 0) {
    *log = absl::StrCat("cannot mount a tmpfs on ", share, ": ", strerror(errno));
    return -1;
  }
  const std::string err = share + ".stderr";
  const std::string command =
      absl::StrCat(ShellQuote(Runfile("tools/guest/run_guest.sh")), " --daemon ",
                   ShellQuote(daemon), " --shared-dir ", ShellQuote(share), " --script ",
                   ShellQuote(Runfile(script)), " --guest-dir ", ShellQuote(guest_dir),
                   " --timeout 300 ", extra_args, " >/dev/null 2>", ShellQuote(err));
  const int status = system(command.c_str());
  *log = ReadFile(err);
  if (own_mount) umount2(share.c_str(), MNT_DETACH);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RunGuestTest, FailsWhenTheDaemonCrashes) {
  ASSERT_EQ(MissingGuest(), "");
  const std::string guest_dir = GuestDir();
  std::string log;
  EXPECT_EQ(RunGuestScript(Runfile("tests/e2e/crashing_daemon.sh") + " {socket} {dir}",
                           "tests/e2e/crash_trigger.sh", guest_dir, &log),
            1)
      << log;
  EXPECT_THAT(log, HasSubstr("the daemon exited (139) while the guest was running")) << log;
  EXPECT_THAT(log, HasSubstr("the daemon crashed or failed (exit 139)")) << log;
}

// The Rust virtiofsd README's example command line works verbatim with our
// binary (paths aside). Its share is a mount of its own, as file handles require.
TEST(RunGuestTest, RustReadmeExampleServesTheGuest) {
  ASSERT_EQ(MissingGuest(), "");
  const std::string guest_dir = GuestDir();
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  std::string log;
  EXPECT_EQ(RunGuestScript(ours + " --socket-path={socket} --shared-dir {dir} "
                                  "--announce-submounts --inode-file-handles=mandatory",
                           "tests/e2e/readme_example.sh", guest_dir, &log, "",
                           /*own_mount=*/true),
            0)
      << log;
}

// A guest that reboots: QEMU stops the rings and resets the device, the new kernel
// negotiates from scratch and INITs again, and sees what the first boot wrote.
TEST(RunGuestTest, GuestRebootIsServed) {
  ASSERT_EQ(MissingGuest(), "");
  const std::string guest_dir = GuestDir();
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  std::string log;
  EXPECT_EQ(RunGuestScript(ours + " --socket-path={socket} --shared-dir={dir}",
                           "tests/e2e/reboot.sh", guest_dir, &log, "--allow-reboot"),
            0)
      << log;
}

TEST(RunGuestTest, MissingGuestSaysToRunPrepare) {
  std::string log;
  EXPECT_EQ(RunGuestScript("true", "tests/e2e/crash_trigger.sh", "/nonexistent", &log), 1);
  EXPECT_THAT(log, HasSubstr("run tools/guest/prepare.sh")) << log;
}

INSTANTIATE_TEST_SUITE_P(Daemons, GuestTest, ::testing::ValuesIn(DaemonsUnderTest()),
                         [](const ::testing::TestParamInfo<Daemon>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace virtiofsd::e2e
