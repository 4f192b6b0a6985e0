// ReleaseStartupPages() in this process: the clean pages of read-only file
// mappings leave its RSS, and everything they hold still works afterwards (code
// of the executable and of shared libraries, their relocated read-only data,
// writable data).

#include "launcher/startup_pages.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// The Rss of every private, non-writable file mapping, as /proc/self/smaps shows it.
uint64_t ReadOnlyFileRssKib() {
  std::ifstream smaps("/proc/self/smaps");
  uint64_t total = 0;
  bool counted = false;
  for (std::string line; std::getline(smaps, line);) {
    char perms[5] = {};
    char path = 0;
    uintptr_t start, end;
    if (sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %4s %*x %*s %*u %c", &start, &end, perms,
               &path) >= 3) {
      counted = path == '/' && perms[1] == '-' && perms[3] == 'p';
      continue;
    }
    uint64_t kib = 0;
    if (counted && sscanf(line.c_str(), "Rss: %" SCNu64, &kib) == 1) total += kib;
  }
  return total;
}

int written = 1;  // writable data: never released

TEST(StartupPagesTest, ReleasesCleanFilePagesAndEverythingStillWorks) {
  written = 42;
  std::ostringstream warm;
  warm << 2.5 << absl::StrCat("x", 1);  // libstdc++ and abseil code, vtables, locale data
  const uint64_t before = ReadOnlyFileRssKib();

  const uint64_t released = ReleaseStartupPages();

  const uint64_t after = ReadOnlyFileRssKib();
  EXPECT_GT(released, 0u);
  EXPECT_LT(after, before) << "released " << released << " KiB";
  // Code, relocated read-only data (vtables through the GOT) and writable data
  // are all still there.
  std::ostringstream out;
  out << 3.5 << " " << std::string("abc") << absl::StrCat(7, "x");
  EXPECT_EQ(out.str(), "3.5 abc7x");
  EXPECT_EQ(written, 42);
  // Again: nothing left to release is no error.
  ReleaseStartupPages();
  EXPECT_EQ(absl::StrCat(written), "42");
}

}  // namespace
}  // namespace virtiofsd
