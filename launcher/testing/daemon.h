// Test helper: runs the real `virtiofsd` binary (a runfile of the test) as a
// child with extra environment, stdout and stderr captured in files; the
// destructor kills it if it still runs.

#ifndef VIRTIOFSD_LAUNCHER_TESTING_DAEMON_H_
#define VIRTIOFSD_LAUNCHER_TESTING_DAEMON_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "launcher/testing/child_report.h"

extern char** environ;

namespace virtiofsd::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// One run of the virtiofsd binary, stdout and stderr captured in files.
class Daemon {
 public:
  Daemon(const std::string& dir, std::vector<std::string> args, std::vector<std::string> env = {},
         int inherit_fd = -1)
      : out_(dir + "/stdout"), err_(dir + "/stderr") {
    std::vector<std::string> argv_storage = {Runfile("launcher/virtiofsd")};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (inherit_fd >= 0) fcntl(inherit_fd, F_SETFD, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
    if (inherit_fd >= 0) fcntl(inherit_fd, F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Daemon() {
    if (pid_ > 0 && !status_.has_value()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // The exit status (or 128 + signal); -1 if it ran for 20 s (then it is killed).
  int Wait() {
    for (int i = 0; i < 2000 && !status_.has_value(); ++i) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return status_.value_or(-1);
  }

  std::string Stdout() const { return ReadFile(out_); }
  std::string Stderr() const { return ReadFile(err_); }

 private:
  std::string out_;
  std::string err_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_LAUNCHER_TESTING_DAEMON_H_
