#include "broker/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/testing/test_broker.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

class BeneathTest : public ::testing::TestWithParam<bool> {
 protected:
  BeneathTest() {
    mkdir(tmp_.Path("dir").c_str(), 0755);
    symlink("/etc/passwd", tmp_.Path("dir/abs").c_str());
    symlink("../outside", tmp_.Path("dir/rel").c_str());
    close(open(tmp_.Path("outside").c_str(), O_CREAT | O_WRONLY, 0644));
    close(open(tmp_.Path("dir/file").c_str(), O_CREAT | O_WRONLY, 0644));
    dir_.Reset(open(tmp_.Path("dir").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  BeneathOpener opener() const { return BeneathOpener(GetParam()); }

  testing::TempDir tmp_;
  UniqueFd dir_;
};

TEST_P(BeneathTest, OpensEntries) {
  UniqueFd fd;
  EXPECT_EQ(opener().Open(dir_.get(), "file", O_RDONLY, 0, fd), 0);
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_P(BeneathTest, NeverFollowsSymlinks) {
  UniqueFd fd;
  EXPECT_EQ(opener().Open(dir_.get(), "abs", O_RDONLY, 0, fd), ELOOP);
  EXPECT_EQ(opener().Open(dir_.get(), "rel", O_RDONLY, 0, fd), ELOOP);
  EXPECT_EQ(opener().Open(dir_.get(), "rel", O_WRONLY | O_CREAT, 0644, fd), ELOOP);
  // O_PATH opens the link itself.
  ASSERT_EQ(opener().Open(dir_.get(), "abs", O_PATH, 0, fd), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_P(BeneathTest, CreatesWithMode) {
  UniqueFd fd;
  ASSERT_EQ(opener().Open(dir_.get(), "new", O_WRONLY | O_CREAT | O_EXCL, 0600, fd), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u & ~0022u);
  EXPECT_EQ(opener().Open(dir_.get(), "new", O_WRONLY | O_CREAT | O_EXCL, 0600, fd), EEXIST);
}

INSTANTIATE_TEST_SUITE_P(Openat2AndFallback, BeneathTest, ::testing::Bool());

TEST(BeneathProbeTest, FindsOpenat2OnThisKernel) {
  EXPECT_TRUE(BeneathOpener::Probe().uses_openat2());
}

}  // namespace
}  // namespace virtiofsd
