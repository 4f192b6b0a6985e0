#include "broker/landlock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/testing/test_broker.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Err;
using testing::TempDir;

// Runs `body` in a child restricted to `share`; its exit code is the first step
// that went wrong (0: none).
int Restricted(const std::string& share, int (*body)(const std::string&, const std::string&),
               const std::string& outside) {
  const pid_t pid = fork();
  if (pid == 0) {
    UniqueFd fd(open(share.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(100);
    absl::StatusOr<int> abi = RestrictToShare(fd.get());
    if (!abi.ok() || *abi != LandlockAbi()) _exit(101);
    _exit(body(share, outside));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

class LandlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (LandlockAbi() == 0) GTEST_SKIP() << "no Landlock in this kernel";
    mkdir(tmp_.Path("share").c_str(), 0755);
    mkdir(tmp_.Path("share/a").c_str(), 0755);
    mkdir(tmp_.Path("share/b").c_str(), 0755);
    mkdir(tmp_.Path("outside").c_str(), 0755);
    close(open(tmp_.Path("share/a/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    close(open(tmp_.Path("outside/secret").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  }
  TempDir tmp_;
};

TEST_F(LandlockTest, EverythingBeneathTheShareWorks) {
  EXPECT_EQ(Restricted(
                tmp_.Path("share"),
                [](const std::string& share, const std::string&) {
                  if (Err(open((share + "/a/f").c_str(), O_RDWR | O_CLOEXEC)) != 0) return 1;
                  if (truncate((share + "/a/f").c_str(), 10) != 0) return 2;
                  if (link((share + "/a/f").c_str(), (share + "/b/l").c_str()) != 0) return 3;
                  if (rename((share + "/a/f").c_str(), (share + "/b/f").c_str()) != 0) return 4;
                  if (mkdir((share + "/a/d").c_str(), 0755) != 0) return 5;
                  if (mkfifo((share + "/a/p").c_str(), 0644) != 0) return 6;
                  if (unlink((share + "/b/l").c_str()) != 0) return 7;
                  if (rmdir((share + "/a/d").c_str()) != 0) return 8;
                  return 0;
                },
                tmp_.Path("outside")),
            0);
}

TEST_F(LandlockTest, NothingOutsideOpensOrChanges) {
  EXPECT_EQ(Restricted(
                tmp_.Path("share"),
                [](const std::string& share, const std::string& outside) {
                  if (Err(open((outside + "/secret").c_str(), O_RDONLY | O_CLOEXEC)) != EACCES) {
                    return 1;
                  }
                  if (Err(open((outside + "/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) !=
                      EACCES) {
                    return 2;
                  }
                  if (Err(unlink((outside + "/secret").c_str())) != EACCES) return 3;
                  if (rename((share + "/a/f").c_str(), (outside + "/f").c_str()) == 0) return 4;
                  if (Err(open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC)) != EACCES) {
                    return 5;
                  }
                  if (LandlockAbi() >= 4) {
                    UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                    sockaddr_in addr = {};
                    addr.sin_family = AF_INET;
                    addr.sin_port = htons(1);
                    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    if (Err(connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr))) !=
                        EACCES) {
                      return 6;
                    }
                  }
                  return 0;
                },
                tmp_.Path("outside")),
            0);
  struct stat st;
  EXPECT_EQ(stat(tmp_.Path("outside/secret").c_str(), &st), 0);
}

}  // namespace
}  // namespace virtiofsd
