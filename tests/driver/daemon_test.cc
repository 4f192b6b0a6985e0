#include "tests/driver/daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd::driver {
namespace {

using ::virtiofsd::testing::StatusIs;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/vfsd-daemon-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Daemon::Options Options(std::vector<std::string> argv) {
    return {.argv = std::move(argv),
            .socket_path = dir_ + "/s.sock",
            .shared_dir = dir_,
            .log_path = dir_ + "/log",
            .start_timeout = absl::Seconds(5)};
  }

  std::string dir_;
};

TEST_F(DaemonTest, SplitCommand) {
  EXPECT_EQ(Daemon::SplitCommand(" a  --b={socket} c "),
            (std::vector<std::string>{"a", "--b={socket}", "c"}));
}

TEST_F(DaemonTest, WaitsForTheSocketAndStopsWithSigterm) {
  // A stand-in back-end: binds the socket given by placeholder, logs its dir.
  ASSERT_OK_AND_ASSIGN(
      auto daemon,
      Daemon::Start(Options({"python3", "-c",
                             "import socket,sys,time\n"
                             "print('serving', sys.argv[2], flush=True)\n"
                             "s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()\n"
                             "time.sleep(60)",
                             "{socket}", "{dir}"})));
  EXPECT_TRUE(daemon->Running());
  EXPECT_TRUE(std::filesystem::is_socket(dir_ + "/s.sock"));
  ASSERT_OK_AND_ASSIGN(int status, daemon->Stop());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_FALSE(daemon->Running());
  EXPECT_EQ(daemon->Log(), "serving " + dir_ + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s.sock"));
}

TEST_F(DaemonTest, EarlyExitIsAbortedWithTheLog) {
  EXPECT_THAT(Daemon::Start(Options({"sh", "-c", "echo no such dir >&2; exit 3"})),
              StatusIs(absl::StatusCode::kAborted));
}

TEST_F(DaemonTest, MissingSocketTimesOutAndTheProcessIsKilled) {
  Daemon::Options options = Options({"sleep", "60"});
  options.start_timeout = absl::Milliseconds(100);
  EXPECT_THAT(Daemon::Start(options), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(DaemonTest, IgnoredSigtermEscalatesToSigkill) {
  ASSERT_OK_AND_ASSIGN(
      auto daemon, Daemon::Start(Options({"python3", "-c",
                                          "import socket,sys,time,signal\n"
                                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                          "s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])\n"
                                          "time.sleep(60)",
                                          "{socket}"})));
  ASSERT_OK_AND_ASSIGN(int status, daemon->Stop(absl::Milliseconds(100)));
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

}  // namespace
}  // namespace virtiofsd::driver
