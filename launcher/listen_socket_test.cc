#include "launcher/listen_socket.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::StatusIs;

class ListenSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/listen_socket_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/vfsd.sock";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  // Connects to path_; true when a listener accepted the connection into its queue.
  bool CanConnect() {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, path_.size());
    return connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }

  mode_t Mode() {
    struct stat st = {};
    EXPECT_EQ(lstat(path_.c_str(), &st), 0);
    return st.st_mode;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ListenSocketTest, CreatesAPrivateListeningSocket) {
  ASSERT_OK_AND_ASSIGN(ListenSocket socket, CreateListenSocket(path_, std::nullopt));
  EXPECT_TRUE(S_ISSOCK(Mode()));
  EXPECT_EQ(Mode() & 0777, 0600u);
  EXPECT_TRUE(CanConnect());
  EXPECT_EQ(fcntl(socket.fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(ListenSocketTest, GroupSocketIsGroupWritable) {
  const gid_t group = getgid();
  ASSERT_OK_AND_ASSIGN(ListenSocket socket, CreateListenSocket(path_, group));
  EXPECT_EQ(Mode() & 0777, 0660u);
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, group);
}

TEST_F(ListenSocketTest, ReplacesAStaleSocket) {
  { ASSERT_OK_AND_ASSIGN(ListenSocket stale, CreateListenSocket(path_, std::nullopt)); }
  // The stale socket's file is still there, with nobody listening.
  EXPECT_TRUE(S_ISSOCK(Mode()));
  EXPECT_FALSE(CanConnect());
  ASSERT_OK_AND_ASSIGN(ListenSocket socket, CreateListenSocket(path_, std::nullopt));
  EXPECT_TRUE(CanConnect());
}

TEST_F(ListenSocketTest, NeverRemovesAFileThatIsNotASocket) {
  { std::ofstream(path_) << "user data"; }
  EXPECT_THAT(CreateListenSocket(path_, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(S_ISREG(Mode()));
}

TEST_F(ListenSocketTest, MissingDirectoryFailsWithItsErrno) {
  EXPECT_THAT(CreateListenSocket(dir_ + "/missing/vfsd.sock", std::nullopt),
              testing::HasErrno(ENOENT));
}

TEST_F(ListenSocketTest, RemoveIfOursLeavesAnotherDaemonsSocket) {
  ASSERT_OK_AND_ASSIGN(ListenSocket ours, CreateListenSocket(path_, std::nullopt));
  ASSERT_EQ(unlink(path_.c_str()), 0);
  ASSERT_OK_AND_ASSIGN(ListenSocket theirs, CreateListenSocket(path_, std::nullopt));
  RemoveIfOurs(ours);
  EXPECT_TRUE(CanConnect());
  RemoveIfOurs(theirs);
  EXPECT_NE(access(path_.c_str(), F_OK), 0);
}

TEST_F(ListenSocketTest, AdoptsAListeningSocketFd) {
  ASSERT_OK_AND_ASSIGN(ListenSocket socket, CreateListenSocket(path_, std::nullopt));
  const int raw = fcntl(socket.fd.get(), F_DUPFD, 0);  // without O_CLOEXEC, as inherited
  ASSERT_OK_AND_ASSIGN(UniqueFd adopted, AdoptListenFd(raw));
  EXPECT_EQ(adopted.get(), raw);
  EXPECT_EQ(fcntl(raw, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(ListenSocketTest, RejectsFdsThatAreNotListeningUnixStreamSockets) {
  UniqueFd file(open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_THAT(AdoptListenFd(file.get()), StatusIs(absl::StatusCode::kInvalidArgument));
  UniqueFd unbound(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_THAT(AdoptListenFd(unbound.get()), StatusIs(absl::StatusCode::kInvalidArgument));
  UniqueFd datagram(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_THAT(AdoptListenFd(datagram.get()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AdoptListenFd(1000), testing::HasErrno(EBADF));
}

TEST(LookupGroupTest, FindsRootAndRejectsUnknownGroups) {
  ASSERT_OK_AND_ASSIGN(gid_t root, LookupGroup("root"));
  EXPECT_EQ(root, 0u);
  EXPECT_THAT(LookupGroup("no-such-group-virtiofsd"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace virtiofsd
