// Load over time with a real guest (guest_session.h lets the guest ask the host to act):
//  - Soak (tests/e2e/soak.sh, one boot): several guest workers create, write, append, rename,
//    hard-link, truncate, fsync, read back and delete files for $VIRTIOFSD_SOAK_SECONDS
//    (default 60), checking every byte they read; then the host compares each surviving file
//    with the guest's manifest, and the daemon's processes must be back, after the guest
//    drops its caches, to the descriptors and threads they had right after the mount (RSS
//    within kRssSlackKib). The figures are printed.
//  - Reboots under load (tests/e2e/soak_reboot.sh, three boots of one QEMU): the guest
//    reboots twice in the middle of fsync'd writes; the second and third boots mount and
//    find every file an fsync'd journal names, whole.

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
constexpr long kRssSlackKib = 8 * 1024;

std::string Daemon() {
  return Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd")) +
         " --socket-path={socket} --shared-dir={dir}";
}

void CopyHelper(const std::string& share) {
  int status;
  RunShell(absl::StrCat("cp ", ShellQuote(Runfile("tests/e2e/load_helper")), " ",
                        ShellQuote(share + "/load_helper"), " && chmod 0755 ",
                        ShellQuote(share + "/load_helper")),
           status);
  ASSERT_EQ(status, 0);
}

std::string Case(const std::map<std::string, std::string>& cases, const std::string& name) {
  auto it = cases.find(name);
  return it == cases.end() ? "(missing)" : it->second;
}

TEST(SoakTest, NothingLostNothingLeaked) {
  int seconds = 60;
  ASSERT_TRUE(absl::SimpleAtoi(Env("VIRTIOFSD_SOAK_SECONDS", "60"), &seconds));
  const std::string tmp = Env("TEST_TMPDIR", "/tmp");
  const std::string share = tmp + "/soak-share";
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0);
  CopyHelper(share);
  DaemonFootprint mounted, end;
  GuestSessionOptions options;
  options.daemon = Daemon();
  options.share = share;
  options.script = Runfile("tests/e2e/soak.sh");
  options.logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", tmp) + "/soak";
  options.timeout_seconds = 300 + seconds * 2;
  const GuestSessionResult run = RunGuestSession(options, [&](const std::string& request) {
    if (request == "@seconds") return absl::StrCat(seconds);
    if (request == "@measure mounted") {
      mounted = MeasureDaemon(share);
      return ToString(mounted);
    }
    if (request == "@measure end") {
      // The guest's FORGETs for what it dropped may still be on their way: wait for them
      // (up to 20 s), then take the figures as they are.
      for (int i = 0; i < 100; i++) {
        end = MeasureDaemon(share);
        if (end.fds <= mounted.fds && end.threads <= mounted.threads) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      return ToString(end);
    }
    return std::string("unknown request");
  });
  std::cerr << run.log << "\nguest:\n" << run.output;
  std::cout << "soak of " << seconds << " s: daemon after mount: " << ToString(mounted)
            << "; at the end: " << ToString(end) << "\n";
  ASSERT_EQ(run.status, 0);
  const std::map<std::string, std::string> cases = ParseCases(run.output);
  ASSERT_TRUE(cases.count("DONE"));
  for (int i = 1; i <= 4; i++) EXPECT_EQ(Case(cases, absl::StrCat("worker_", i)), "errors 0");

  // Every surviving file, as the guest saw it and as the host holds it.
  absl::StatusOr<GuestReport> report = ParseGuestOutput(run.output);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->manifest_complete);
  EXPECT_THAT(report->manifest_errors, IsEmpty());
  absl::StatusOr<Manifest> host = ScanHostTree(share + "/soak");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_GT(host->size(), 4u) << "the workers left nothing to compare";
  EXPECT_THAT(PathDifferences(report->manifest, *host), IsEmpty());
  for (Field field : {Field::kType, Field::kSize, Field::kNlink, Field::kMd5}) {
    EXPECT_THAT(FieldDifferences(report->manifest, *host, field), IsEmpty());
  }

  // No leak: the daemon is back to where it was after the mount.
  ASSERT_GE(mounted.processes, 3) << "the launcher and its two children were not found";
  EXPECT_EQ(end.processes, mounted.processes);
  EXPECT_LE(end.fds, mounted.fds) << ToString(end) << " vs " << ToString(mounted);
  EXPECT_LE(end.threads, mounted.threads) << ToString(end) << " vs " << ToString(mounted);
  EXPECT_LE(end.rss_kib, mounted.rss_kib + kRssSlackKib)
      << ToString(end) << " vs " << ToString(mounted);
}

TEST(SoakTest, RebootsUnderLoadKeepWhatWasFsynced) {
  const std::string tmp = Env("TEST_TMPDIR", "/tmp");
  const std::string share = tmp + "/reboot-share";
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0);
  CopyHelper(share);
  GuestSessionOptions options;
  options.daemon = Daemon();
  options.share = share;
  options.script = Runfile("tests/e2e/soak_reboot.sh");
  options.logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", tmp) + "/reboot";
  options.extra_args = "--allow-reboot";
  const GuestSessionResult run =
      RunGuestSession(options, [](const std::string&) { return std::string("unknown"); });
  std::cerr << run.log << "\nguest:\n" << run.output;
  EXPECT_EQ(run.status, 0);
  const std::map<std::string, std::string> cases = ParseCases(run.output);
  EXPECT_TRUE(cases.count("DONE")) << "the third boot did not finish";
  EXPECT_EQ(ReadFile(share + "/boots"), "3\n");
  // "N files, errors 0": the second boot checks the first's journal, the third both.
  long files[4] = {};
  for (int boot : {2, 3}) {
    const std::string verdict = Case(cases, absl::StrCat("verify_boot_", boot));
    std::vector<std::string> words = absl::StrSplit(verdict, ' ');
    ASSERT_EQ(words.size(), 4u) << verdict;
    EXPECT_EQ(words[3], "0") << "boot " << boot << ": " << verdict;
    ASSERT_TRUE(absl::SimpleAtoi(words[0], &files[boot])) << verdict;
  }
  EXPECT_GT(files[2], 0) << "the first boot journaled nothing before its reboot";
  EXPECT_GT(files[3], files[2]) << "the second boot journaled nothing before its reboot";
  // The host's own check of the same journals.
  int status;
  const std::string host_verdict = RunShell(
      absl::StrCat(ShellQuote(Runfile("tests/e2e/load_helper")), " verify ", ShellQuote(share)),
      status);
  EXPECT_EQ(status, 0) << host_verdict;
  EXPECT_EQ(host_verdict, absl::StrCat("ops ", files[3], " errors 0\n"));
  std::cout << "reboots under load: " << files[2] << " fsync'd files found by the second boot, "
            << files[3] << " by the third\n";
}

}  // namespace
}  // namespace virtiofsd::e2e
