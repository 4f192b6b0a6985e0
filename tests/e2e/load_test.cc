// Host changes under a mounted guest, and sizes, with a real guest (tests/e2e/load.sh, one
// boot per cache mode; guest_session.h lets the guest ask the host to act mid-run):
//  - files the host rewrites, renames, unlinks and creates while the guest has them cached
//    are seen as README.md's "What the guest sees of changes on the host" says for --cache
//    never (at once), auto (after the 1 s timeouts) and always (once the guest drops its
//    caches); no error but ENOENT;
//  - a directory of 100,000 entries (made on the host) listed completely by READDIR (with
//    --cache=never, which turns READDIRPLUS off), also while the host adds and removes other
//    entries, and by READDIRPLUS (with auto) while the host does that; a 4 GiB sparse file's holes
//    (SEEK_DATA/SEEK_HOLE); a path of 4,000 bytes and one beyond PATH_MAX; names of 255 bytes, and
//    256 refused.

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/guest_session.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr int kBigEntries = 100000;

std::string BigName(int i) { return absl::StrFormat("e%06d", i); }

void WriteFile(const std::string& path, const std::string& contents) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  fputs(contents.c_str(), f);
  fclose(f);
}

// Adds and removes entries churn-N of a directory until stopped.
class Churn {
 public:
  void Start(const std::string& dir) {
    thread_ = std::thread([this, dir] {
      for (long i = 0; !stop_; i++) {
        const std::string name = absl::StrCat(dir, "/churn-", i);
        close(open(name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        if (i >= 50) unlink(absl::StrCat(dir, "/churn-", i - 50).c_str());
        ops_ += 2;
        // Leave the guest the CPU: QEMU emulates it on the same few cores.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  long Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return ops_;
  }
  ~Churn() { Stop(); }

 private:
  std::thread thread_;
  std::atomic<bool> stop_ = false;
  std::atomic<long> ops_ = 0;
};

struct Boot {
  std::string cache;     // --cache
  std::string sections;  // load.sh's parts
};
void PrintTo(const Boot& boot, std::ostream* os) { *os << boot.cache; }

struct BootResult {
  GuestSessionResult session;
  std::map<std::string, std::string> cases;
  std::string share;
};

const BootResult& BootOnce(const Boot& boot) {
  static auto* results = new std::map<std::string, BootResult>();
  auto it = results->find(boot.cache);
  if (it != results->end()) return it->second;
  BootResult& r = (*results)[boot.cache];
  const std::string tmp = Env("TEST_TMPDIR", "/tmp");
  r.share = tmp + "/share-" + boot.cache;
  mkdir(r.share.c_str(), 0755);
  for (const char* d : {"cache", "big", "names", "out"}) mkdir((r.share + "/" + d).c_str(), 0755);
  WriteFile(r.share + "/cache/f1", "one");
  WriteFile(r.share + "/cache/f2", "same-1");
  WriteFile(r.share + "/cache/old", "old-file");
  WriteFile(r.share + "/cache/gone", "gone");
  if (absl::StrContains(boot.sections, "readdir")) {
    for (int i = 0; i < kBigEntries; i++) {
      close(open((r.share + "/big/" + BigName(i)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    }
  }
  int status;
  RunShell(absl::StrCat("cp ", ShellQuote(Runfile("tests/e2e/load_helper")), " ",
                        ShellQuote(r.share + "/load_helper"), " && chmod 0755 ",
                        ShellQuote(r.share + "/load_helper")),
           status);
  Churn churn;
  GuestSessionOptions options;
  options.daemon = Env("VIRTIOFSD_E2E_OURS", Runfile("launcher/virtiofsd")) +
                   " --socket-path={socket} --shared-dir={dir} --cache=" + boot.cache;
  options.share = r.share;
  options.script = Runfile("tests/e2e/load.sh");
  options.logs = Env("TEST_UNDECLARED_OUTPUTS_DIR", tmp) + "/" + boot.cache;
  r.session = RunGuestSession(options, [&](const std::string& request) -> std::string {
    if (request == "@sections") return boot.sections;
    if (request == "@churn-start") {
      churn.Start(r.share + "/big");
      return "started";
    }
    if (request == "@churn-stop") return absl::StrCat("churned ", churn.Stop(), " entries");
    return RunInDir(r.share, request);
  });
  churn.Stop();
  std::cerr << "[" << boot.cache << "] " << r.session.log;
  r.cases = ParseCases(r.session.output);
  return r;
}

// The three boots; each is made once, when a test first looks at it, and shared by the
// tests that look at it.
const Boot kNever{"never", "cache readdir churn-readdir"};
const Boot kAuto{"auto", "cache churn-readdirplus size"};
const Boot kAlways{"always", "cache"};

std::string Case(const Boot& boot, const std::string& name) {
  const BootResult& r = BootOnce(boot);
  auto it = r.cases.find(name);
  return it == r.cases.end() ? "(missing)" : it->second;
}
std::string Out(const Boot& boot, const std::string& name) {
  return ReadFile(BootOnce(boot).share + "/out/" + name);
}

// What every boot is asked: one case per cache mode.
class CacheModeTest : public ::testing::TestWithParam<Boot> {
 protected:
  const BootResult& Result() { return BootOnce(GetParam()); }
  std::string Case(const std::string& name) { return e2e::Case(GetParam(), name); }
};

TEST_P(CacheModeTest, GuestRunFinishes) {
  const BootResult& r = Result();
  EXPECT_EQ(r.session.status, 0) << r.session.log << "\nguest:\n" << r.session.output;
  EXPECT_TRUE(r.cases.count("DONE")) << r.session.output;
}

// What README.md promises for each mode (see there).
TEST_P(CacheModeTest, HostChangesAreSeenAsTheCacheModeSays) {
  EXPECT_EQ(Case("f1_before"), "one");
  EXPECT_EQ(Case("f2_before"), "same-1");
  EXPECT_EQ(Case("old_before"), "8");
  EXPECT_EQ(Case("gone_before"), "gone");
  EXPECT_EQ(Case("born_before"), "ENOENT");
  const std::map<std::string, std::string> fresh = {
      {"f1", "version-two"}, {"f1_size", "11"},  {"f2", "same-2"}, {"old", "ENOENT"},
      {"new", "8"},          {"gone", "ENOENT"}, {"born", "born"}, {"born_listed", "1"}};
  // --cache=always: names, and the contents of a file whose size did not change, stay as
  // the guest cached them. A file whose size changed may show its new size (a read past
  // its end or a listing refreshes it): not asserted.
  const std::map<std::string, std::string> cached = {
      {"f2", "same-1"}, {"old", "8"},         {"new", "8"}, {"gone", "4"},
      {"born", "born"}, {"born_listed", "1"}, {"f1", ""},   {"f1_size", ""}};
  const std::string& mode = GetParam().cache;
  for (const char* when : {"now", "later", "dropped"}) {
    const std::string w = when;
    const std::map<std::string, std::string>* want = &fresh;
    if (mode == "always" && w != "dropped") want = &cached;
    for (const auto& [what, value] : *want) {
      const std::string name = what + "_" + w;
      if ((mode == "auto" && w == "now") || value.empty()) {
        // Either view may show: only errors are wrong.
        EXPECT_THAT(Case(name), ::testing::Not(StartsWith("ERROR"))) << name;
        EXPECT_NE(Case(name), "(missing)") << name;
        continue;
      }
      EXPECT_EQ(Case(name), value) << name << " with --cache=" << mode;
    }
  }
}

// Every name that was there throughout appears exactly once; others at most once, and only
// the churned ones.
std::vector<std::string> ListingProblems(const std::string& listing) {
  std::map<std::string, int> names;
  for (absl::string_view line : absl::StrSplit(listing, '\n', absl::SkipEmpty())) {
    names[std::string(line)]++;
  }
  std::vector<std::string> problems;
  for (int i = 0; i < kBigEntries && problems.size() < 20; i++) {
    const int n = names[BigName(i)];
    if (n != 1) problems.push_back(absl::StrCat(BigName(i), " listed ", n, " times"));
  }
  for (const auto& [name, n] : names) {
    const bool expected = name.size() == 7 && name[0] == 'e';
    if (!expected && !absl::StartsWith(name, "churn-") && name != "." && name != "..") {
      problems.push_back("unexpected " + name);
    } else if (n > 1) {
      problems.push_back(absl::StrCat(name, " listed ", n, " times"));
    }
  }
  return problems;
}

void ExpectListing(const Boot& boot, const std::string& what) {
  EXPECT_EQ(Case(boot, what + "_status"), "0") << Out(boot, what + ".err");
  EXPECT_THAT(ListingProblems(Out(boot, what)), IsEmpty()) << what;
}

// READDIR is seen with --cache=never (which turns READDIRPLUS off), READDIRPLUS with auto.
TEST(LoadTest, HundredThousandEntriesByReaddir) {
  ExpectListing(kNever, "readdir");
  // Nothing else was there.
  const std::vector<std::string> lines =
      absl::StrSplit(Out(kNever, "readdir"), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), kBigEntries + 2);
}

TEST(LoadTest, HundredThousandEntriesByReaddirWhileTheHostChurns) {
  ExpectListing(kNever, "churn-readdir");
  EXPECT_THAT(Case(kNever, "churn-readdir_churn"), StartsWith("churned "));
  EXPECT_NE(Case(kNever, "churn-readdir_churn"), "churned 0 entries") << "the host was idle";
}

TEST(LoadTest, HundredThousandEntriesByReaddirplusWhileTheHostChurns) {
  ExpectListing(kAuto, "churn-readdirplus");
  EXPECT_THAT(Case(kAuto, "churn-readdirplus_churn"), StartsWith("churned "));
  EXPECT_NE(Case(kAuto, "churn-readdirplus_churn"), "churned 0 entries") << "the host was idle";
}

// The sizes are seen with --cache=auto.
TEST(LoadTest, SparseFileOfFourGibibytes) {
  EXPECT_EQ(Case(kAuto, "sparse_map"),
            "data 1073741824 1073745920 data 4294963200 4294967296 size 4294967296");
  EXPECT_EQ(Case(kAuto, "sparse_hole_nonzero_bytes"), "0");
  struct stat st;
  ASSERT_EQ(stat((BootOnce(kAuto).share + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4LL << 30);
  EXPECT_LE(st.st_blocks * 512, 1 << 20) << "the holes were filled on the host";
  int status;
  const std::string host_md5 =
      RunShell(absl::StrCat("dd if=", ShellQuote(BootOnce(kAuto).share + "/sparse"),
                            " bs=4096 skip=262144 count=1 2>/dev/null | md5sum | cut -c1-32"),
               status);
  EXPECT_EQ(Case(kAuto, "sparse_md5"), absl::StripTrailingAsciiWhitespace(host_md5));
}

TEST(LoadTest, NamesOf255BytesAnd256Refused) {
  EXPECT_EQ(Case(kAuto, "create_255"), "ok");
  EXPECT_EQ(Case(kAuto, "create_256"), "ENAMETOOLONG");
  EXPECT_EQ(Case(kAuto, "mkdir_256"), "ENAMETOOLONG");
  EXPECT_EQ(Case(kAuto, "lookup_256"),
            "ERROR:stat:_can't_stat_'names/" + std::string(255, 'n') + "x':_File_name_too_long");
  EXPECT_EQ(Case(kAuto, "link_255"), "2");
  EXPECT_EQ(Case(kAuto, "listed_255"), "1");
  struct stat st;
  EXPECT_EQ(stat((BootOnce(kAuto).share + "/names/" + std::string(255, 'm')).c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
}

TEST(LoadTest, DeepPaths) {
  EXPECT_EQ(Case(kAuto, "deep_length"), "4004");
  EXPECT_EQ(Case(kAuto, "deep_mkdir"), "ok");
  EXPECT_EQ(Case(kAuto, "deep_file"), "deep");
  EXPECT_EQ(Case(kAuto, "deeper"), "deeper");
  // The host walks there one component at a time (the whole path is beyond PATH_MAX).
  int fd = open((BootOnce(kAuto).share + "/deep").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 42 && fd >= 0; i++) {
    const int next = openat(fd, std::string(99, 'd').c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = next;
  }
  ASSERT_GE(fd, 0) << "the 42 levels are not all there";
  const int file = openat(fd, "f", O_RDONLY | O_CLOEXEC);
  close(fd);
  ASSERT_GE(file, 0);
  char buf[16] = {};
  EXPECT_EQ(read(file, buf, sizeof(buf)), 7);
  close(file);
  EXPECT_STREQ(buf, "deeper\n");
}

INSTANTIATE_TEST_SUITE_P(CacheModes, CacheModeTest, ::testing::Values(kNever, kAuto, kAlways),
                         [](const ::testing::TestParamInfo<Boot>& info) {
                           return info.param.cache;
                         });

}  // namespace
}  // namespace virtiofsd::e2e
