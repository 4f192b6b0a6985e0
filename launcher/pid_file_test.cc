#include "launcher/pid_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;

class PidFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/pid_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/vfsd.sock.pid";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
  std::string path_;
};

TEST_F(PidFileTest, HoldsOurPidAndLocksOutASecondDaemon) {
  ASSERT_OK_AND_ASSIGN(PidFile first, PidFile::Acquire(path_));
  std::ifstream in(path_);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), std::to_string(getpid()) + "\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_THAT(PidFile::Acquire(path_), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(PidFileTest, RemoveReleasesTheLockAndTheFile) {
  ASSERT_OK_AND_ASSIGN(PidFile first, PidFile::Acquire(path_));
  first.Remove();
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
  EXPECT_OK(PidFile::Acquire(path_));
}

TEST_F(PidFileTest, AStaleFileIsReusedAndTruncated) {
  {
    std::ofstream out(path_);
    out << "999999999999 stale content\n";
  }
  ASSERT_OK_AND_ASSIGN(PidFile pid_file, PidFile::Acquire(path_));
  std::ifstream in(path_);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), std::to_string(getpid()) + "\n");
}

TEST_F(PidFileTest, DoesNotFollowASymlink) {
  ASSERT_EQ(symlink("/etc/passwd", path_.c_str()), 0);
  EXPECT_THAT(PidFile::Acquire(path_), testing::HasErrno(ELOOP));
}

TEST_F(PidFileTest, AMissingDirectoryIsNamedNotTheFile) {
  const std::string missing = dir_ + "/no-such-dir";
  absl::StatusOr<PidFile> pid_file = PidFile::Acquire(missing + "/vfsd.sock.pid");
  EXPECT_THAT(pid_file, testing::HasErrno(ENOENT));
  const std::string message(pid_file.status().message());
  EXPECT_THAT(message, ::testing::HasSubstr("directory " + missing + " "));
  EXPECT_THAT(message, ::testing::Not(::testing::HasSubstr(".pid")));
}

}  // namespace
}  // namespace virtiofsd
