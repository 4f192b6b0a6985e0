#include "tests/e2e/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::virtiofsd::testing::StatusIs;

constexpr char kOutput[] =
    "ok - create\n"
    "# expected 'a', got 'b'\n"
    "not ok - chmod\n"
    "manifest-begin\n"
    "entry docs d 751 0 0 - 3 - -\n"
    "xattr docs user.kind folder with spaces\n"
    "# xattr: list: Operation not supported\n"
    "entry docs/plan.txt f 644 1000 1000 6 1 - c9a36eb3c2217b3326373ced3736baf2\n"
    "entry hello-sym l 777 77 88 9 1 hello.txt -\n"
    "entry sticky d 1777 0 0 - 2 - -\n"
    "manifest-end\n"
    "# everyday.sh: 1 failed\n";

TEST(ParseGuestOutputTest, ReadsStepsAndManifest) {
  ASSERT_OK_AND_ASSIGN(GuestReport report, ParseGuestOutput(kOutput));
  EXPECT_THAT(report.passed, ElementsAre("create"));
  EXPECT_THAT(report.failed, ElementsAre("chmod"));
  EXPECT_TRUE(report.manifest_complete);
  EXPECT_THAT(report.manifest_errors, ElementsAre("# xattr: list: Operation not supported"));
  ASSERT_THAT(report.manifest, SizeIs(4));
  const Entry& docs = report.manifest.at("docs");
  EXPECT_EQ(docs.type, 'd');
  EXPECT_EQ(docs.mode, 0751u);
  EXPECT_EQ(docs.size, -1);
  EXPECT_EQ(docs.nlink, 3u);
  EXPECT_EQ(docs.xattrs.at("user.kind"), "folder with spaces");
  const Entry& plan = report.manifest.at("docs/plan.txt");
  EXPECT_EQ(FieldText(plan, Field::kOwner), "1000:1000");
  EXPECT_EQ(plan.size, 6);
  EXPECT_EQ(plan.md5, "c9a36eb3c2217b3326373ced3736baf2");
  EXPECT_EQ(report.manifest.at("hello-sym").target, "hello.txt");
  EXPECT_EQ(FieldText(report.manifest.at("sticky"), Field::kMode), "1777");
}

TEST(ParseGuestOutputTest, NoManifestEndIsIncomplete) {
  ASSERT_OK_AND_ASSIGN(GuestReport report, ParseGuestOutput("manifest-begin\n"));
  EXPECT_FALSE(report.manifest_complete);
}

TEST(ParseGuestOutputTest, RejectsMalformedLines) {
  EXPECT_THAT(ParseGuestOutput("manifest-begin\nentry a f 644 0 0 1 1 -\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuestOutput("manifest-begin\nentry a f 6x4 0 0 1 1 - -\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuestOutput("manifest-begin\nxattr a user.x 1\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseGuestOutput("manifest-begin\nkernel panic\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class ScanHostTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/manifest_test.XXXXXX";
    const char* base = getenv("TEST_TMPDIR");
    root_ = base != nullptr ? std::string(base) + "/tree" : mkdtemp(tmpl);
    mkdir(root_.c_str(), 0755);
  }
  void Write(const std::string& rel, const std::string& data) {
    int fd = open((root_ + "/" + rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    close(fd);
  }
  std::string root_;
};

TEST_F(ScanHostTreeTest, SeesWhatTheGuestScriptReports) {
  ASSERT_EQ(mkdir((root_ + "/docs").c_str(), 0751), 0);
  ASSERT_EQ(chmod((root_ + "/docs").c_str(), 0751), 0);  // umask-proof
  Write("docs/plan.txt", "draft\n");
  ASSERT_EQ(symlink("hello.txt", (root_ + "/hello-sym").c_str()), 0);
  ASSERT_EQ(mkfifo((root_ + "/pipe").c_str(), 0644), 0);
  ASSERT_EQ(link((root_ + "/docs/plan.txt").c_str(), (root_ + "/plan-link").c_str()), 0);
  // user.* xattrs need a filesystem that has them (tmpfs before 6.6 does not): optional.
  const bool xattrs = setxattr((root_ + "/docs").c_str(), "user.kind", "folder", 6, 0) == 0;

  ASSERT_OK_AND_ASSIGN(Manifest m, ScanHostTree(root_));
  ASSERT_THAT(m, SizeIs(5));
  EXPECT_EQ(FieldText(m.at("docs"), Field::kType), "d");
  EXPECT_EQ(FieldText(m.at("docs"), Field::kMode), "0751");
  EXPECT_EQ(FieldText(m.at("docs"), Field::kSize), "-");
  if (xattrs) EXPECT_EQ(FieldText(m.at("docs"), Field::kXattrs), "user.kind=folder");
  EXPECT_EQ(m.at("docs/plan.txt").md5, "c9a36eb3c2217b3326373ced3736baf2");  // md5("draft\n")
  EXPECT_EQ(m.at("docs/plan.txt").size, 6);
  EXPECT_EQ(m.at("docs/plan.txt").nlink, 2u);
  EXPECT_EQ(m.at("hello-sym").type, 'l');
  EXPECT_EQ(m.at("hello-sym").target, "hello.txt");
  EXPECT_EQ(m.at("hello-sym").md5, "");
  EXPECT_EQ(m.at("pipe").type, 'p');
}

TEST_F(ScanHostTreeTest, MissingRootKeepsTheErrno) {
  EXPECT_THAT(ScanHostTree(root_ + "/nonexistent").status(),
              ::virtiofsd::testing::HasErrno(ENOENT));
}

TEST(CompareTest, NamesEachDifference) {
  Manifest guest, host;
  guest["a"].mode = 0640;
  host["a"].mode = 0644;
  guest["b"].uid = 1;
  host["b"].uid = 1;
  guest["only-guest"];
  host["only-host"];
  EXPECT_THAT(FieldDifferences(guest, host, Field::kMode),
              ElementsAre("a: guest '0640', host '0644'"));
  EXPECT_THAT(FieldDifferences(guest, host, Field::kOwner), IsEmpty());
  EXPECT_THAT(PathDifferences(guest, host),
              ElementsAre("only-guest: only in the guest's view", "only-host: only on the host"));
}

}  // namespace
}  // namespace virtiofsd::e2e
