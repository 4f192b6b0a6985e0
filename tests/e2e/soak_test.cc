// Load over time with a real guest (guest_session.h lets the guest ask the host to act):
//  - Soak (tests/e2e/soak.sh, boot 1): several guest workers create, write, append, rename,
//    hard-link, truncate, fsync, read back and delete files for $VIRTIOFSD_SOAK_SECONDS
//    (default 60), checking every byte they read; then the host compares each surviving file
//    with the guest's manifest, and the daemon's processes must be back, after the guest
//    drops its caches, to the descriptors and threads they had right after the mount (RSS
//    within kRssSlackKib). The figures are printed.
//  - Reboots under load (the same QEMU run, boots 2 and 3): the guest reboots twice in the
//    middle of fsync'd writes; the second and third boots mount and find every file an
//    fsync'd journal names, whole.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/guest_session.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/manifest.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::IsEmpty;

// Allocators keep freed memory and the first requests fault in code and buffers: the
// resident size may end a little above its value after the mount, not a leak's worth.
constexpr long kRssSlackKib = 16 * 1024;

void CopyHelper(const std::string& share) {
  int status;
  RunShell(absl::StrCat("cp ", ShellQuote(Runfile("tests/e2e/load_helper")), " ",
                        ShellQuote(share + "/load_helper"), " && chmod 0755 ",
                        ShellQuote(share + "/load_helper")),
           status);
  EXPECT_EQ(status, 0) << "cannot copy load_helper into " << share;
}

std::string Case(const std::map<std::string, std::string>& cases, const std::string& name) {
  auto it = cases.find(name);
  return it == cases.end() ? "(missing)" : it->second;
}

struct SoakRun {
  int seconds = 60;
  std::string share;
  GuestSessionResult session;
  std::map<std::string, std::string> cases;
  DaemonFootprint mounted, end;
};

// The one QEMU run (three boots) both tests look at.
const SoakRun& TheRun() {
  static SoakRun* run = [] {
    auto* r = new SoakRun;
    const std::string seconds = Env("VIRTIOFSD_SOAK_SECONDS", "60");
    if (!absl::SimpleAtoi(seconds, &r->seconds) || r->seconds <= 0) {
      ADD_FAILURE() << "VIRTIOFSD_SOAK_SECONDS=" << seconds << " is no number of seconds";
      return r;
    }
    const std::string tmp = Env("TEST_TMPDIR", "/tmp");
    r->share = tmp + "/soak-share";
    mkdir(r->share.c_str(), 0755);
    CopyHelper(r->share);
    GuestSessionOptions options;
    options.daemon = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd")) +
                     " --socket-path={socket} --shared-dir={dir}";
    options.share = r->share;
    options.script = Runfile("tests/e2e/soak.sh");
    options.logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", tmp) + "/soak";
    options.extra_args = "--allow-reboot";
    options.timeout_seconds = 400 + r->seconds * 2;
    r->session = RunGuestSession(options, [r](const std::string& request) {
      if (request == "@seconds") return absl::StrCat(r->seconds);
      if (request == "@measure mounted") {
        r->mounted = MeasureDaemon(r->share);
        return ToString(r->mounted);
      }
      if (request == "@measure end") {
        // The guest's FORGETs for what it dropped may still be on their way: wait for them
        // (up to 20 s), then take the figures as they are.
        for (int i = 0; i < 100; i++) {
          r->end = MeasureDaemon(r->share);
          if (r->end.fds <= r->mounted.fds && r->end.threads <= r->mounted.threads) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return ToString(r->end);
      }
      return std::string("unknown request");
    });
    std::cerr << r->session.log << "\nguest:\n" << r->session.output;
    r->cases = ParseCases(r->session.output);
    return r;
  }();
  return *run;
}

TEST(SoakTest, GuestRunFinishes) {
  EXPECT_EQ(TheRun().session.status, 0);
  EXPECT_TRUE(TheRun().cases.count("DONE")) << "the third boot did not finish";
  EXPECT_EQ(ReadFile(TheRun().share + "/.boots"), "3\n");
}

TEST(SoakTest, NothingLostNothingLeaked) {
  const SoakRun& run = TheRun();
  std::cout << "soak of " << run.seconds << " s: daemon after mount: " << ToString(run.mounted)
            << "; at the end: " << ToString(run.end) << "\n";
  for (int i = 1; i <= 4; i++) EXPECT_EQ(Case(run.cases, absl::StrCat("worker_", i)), "errors 0");

  // Every surviving file, as the guest saw it and as the host holds it.
  absl::StatusOr<GuestReport> report = ParseGuestOutput(run.session.output);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->manifest_complete);
  EXPECT_THAT(report->manifest_errors, IsEmpty());
  absl::StatusOr<Manifest> host = ScanHostTree(run.share + "/soak");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_GT(host->size(), 4u) << "the workers left nothing to compare";
  EXPECT_THAT(PathDifferences(report->manifest, *host), IsEmpty());
  for (Field field : {Field::kType, Field::kSize, Field::kNlink, Field::kMd5}) {
    EXPECT_THAT(FieldDifferences(report->manifest, *host, field), IsEmpty());
  }

  // No leak: the daemon is back to where it was after the mount.
  ASSERT_GE(run.mounted.processes, 3) << "the launcher and its two children were not found";
  EXPECT_EQ(run.end.processes, run.mounted.processes);
  EXPECT_LE(run.end.fds, run.mounted.fds) << ToString(run.end) << " vs " << ToString(run.mounted);
  EXPECT_LE(run.end.threads, run.mounted.threads)
      << ToString(run.end) << " vs " << ToString(run.mounted);
  EXPECT_LE(run.end.rss_kib, run.mounted.rss_kib + kRssSlackKib)
      << ToString(run.end) << " vs " << ToString(run.mounted);
}

TEST(SoakTest, RebootsUnderLoadKeepWhatWasFsynced) {
  const SoakRun& run = TheRun();
  // "N files, errors 0": the second boot checks the first's journal, the third both.
  long files[4] = {};
  for (int boot : {2, 3}) {
    const std::string verdict = Case(run.cases, absl::StrCat("verify_boot_", boot));
    std::vector<std::string> words = absl::StrSplit(verdict, ' ');
    ASSERT_EQ(words.size(), 4u) << verdict;
    EXPECT_EQ(words[3], "0") << "boot " << boot << ": " << verdict;
    ASSERT_TRUE(absl::SimpleAtoi(words[0], &files[boot])) << verdict;
  }
  EXPECT_GT(files[2], 0) << "the first boot journaled nothing before its reboot";
  EXPECT_GT(files[3], files[2]) << "the second boot journaled nothing before its reboot";
  // The host's own check of the same journals.
  int status;
  const std::string host_verdict =
      RunShell(absl::StrCat(ShellQuote(Runfile("tests/e2e/load_helper")), " verify ",
                            ShellQuote(run.share + "/journal")),
               status);
  EXPECT_EQ(status, 0) << host_verdict;
  EXPECT_EQ(host_verdict, absl::StrCat("ops ", files[3], " errors 0\n"));
  std::cout << "reboots under load: " << files[2] << " fsync'd files found by the second boot, "
            << files[3] << " by the third\n";
}

}  // namespace
}  // namespace virtiofsd::e2e
