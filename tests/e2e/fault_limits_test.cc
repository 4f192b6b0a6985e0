// Limits met by a real guest (tests/e2e/fault_limits.sh) with the real executables
// and the TCG guest, one boot: a full share (a 32 MiB tmpfs the test mounts) gives
// the guest ENOSPC while the daemon serves on, keeps what was written and frees
// the space on delete; a small --rlimit-nofile, met by a large tree walk and by
// files held open, gives EMFILE/ENFILE and never a crash, and closing recovers.

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/fault_run.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/md5.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kDirs = 30;
constexpr int kFilesPerDir = 20;

TEST(LimitsTest, FullShareAndFewDescriptorsGiveErrnosAndServiceGoesOn) {
  const std::string share = Env("TEST_TMPDIR", "/tmp") + "/share-limits";
  ASSERT_EQ(mkdir(share.c_str(), 0755), 0) << strerror(errno);
  ASSERT_EQ(mount("fault-limits", share.c_str(), "tmpfs", 0, "mode=0755,size=32m"), 0)
      << strerror(errno);
  struct Unmount {
    const std::string& path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{share};
  ASSERT_EQ(mkdir((share + "/tree").c_str(), 0755), 0);
  for (int d = 0; d < kDirs; ++d) {
    const std::string dir = absl::StrCat(share, "/tree/d", d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < kFilesPerDir; ++f) std::ofstream(absl::StrCat(dir, "/f", f)) << f;
  }
  int status = -1;
  RunShell("cp " + ShellQuote(Runfile("tests/e2e/fault_open_many")) + " " +
               ShellQuote(share + "/fault_open_many"),
           status);
  ASSERT_EQ(status, 0);
  const std::string ours = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd"));
  FaultRunOptions options;
  options.name = "limits";
  options.daemon = ours + " --socket-path={socket} --shared-dir={dir} --rlimit-nofile=256";
  options.share = share;
  options.script = "tests/e2e/fault_limits.sh";
  const FaultRun run = RunFaultGuest(options);
  const std::string context = absl::StrCat("run_guest.sh:\n", run.log, "\nguest:\n", run.output,
                                           "\ndaemon:\n", run.daemon_log);
  auto result = [&](const std::string& name) {
    auto it = run.cases.find(name);
    return it == run.cases.end() ? std::string("<no CASE line>") : it->second;
  };
  ASSERT_EQ(run.error, "") << context;
  // Never a crash: the script ran to its end and the daemon exited cleanly with QEMU.
  EXPECT_EQ(run.exit_code, 0) << context;
  EXPECT_TRUE(run.cases.contains("DONE")) << context;

  // A full share.
  EXPECT_EQ(result("before"), "ok") << context;
  EXPECT_EQ(result("fill"), "ENOSPC") << context;
  EXPECT_EQ(result("more"), "ENOSPC") << context;
  EXPECT_EQ(result("ls-full"), "ok") << context;
  EXPECT_EQ(result("reread"), result("before-md5")) << context;
  EXPECT_EQ(result("rm"), "ok") << context;
  EXPECT_EQ(result("after"), "ok") << context;
  EXPECT_EQ(result("after-md5"), result("before-md5")) << context;
  for (const char* name : {"before.bin", "after.bin"}) {
    absl::StatusOr<std::string> md5 = Md5OfFile(share + "/" + name);
    EXPECT_TRUE(md5.ok() && *md5 == result("before-md5")) << name << " on the host";
  }
  EXPECT_FALSE(Exists(share + "/fill"));

  // Few descriptors.
  EXPECT_EQ(result("walk"), "EMFILE-or-ENFILE") << context;
  EXPECT_EQ(result("walk-again"), std::to_string(kFilesPerDir)) << context;
  EXPECT_THAT(result("open-many"), AnyOf("EMFILE", "ENFILE")) << context;
  EXPECT_EQ(result("reopen"), "ok") << context;
  EXPECT_EQ(result("ls-after"), "ok") << context;
  EXPECT_THAT(run.daemon_log, Not(HasSubstr("every request fails"))) << context;
}

}  // namespace
}  // namespace virtiofsd::e2e
