#include "tests/driver/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status.h"

extern char** environ;

namespace virtiofsd::driver {

std::vector<std::string> Daemon::SplitCommand(absl::string_view command) {
  return absl::StrSplit(command, ' ', absl::SkipEmpty());
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const Options& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty daemon command");
  std::vector<std::string> argv;
  for (const std::string& arg : options.argv) {
    argv.push_back(absl::StrReplaceAll(
        arg, {{"{socket}", options.socket_path}, {"{dir}", options.shared_dir}}));
  }
  std::vector<char*> raw_argv;
  for (std::string& arg : argv) raw_argv.push_back(arg.data());
  raw_argv.push_back(nullptr);
  unlink(options.socket_path.c_str());

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  pid_t pid;
  const int err = posix_spawnp(&pid, raw_argv[0], &actions, &attr, raw_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoError(err, "spawn " + argv[0]);

  std::unique_ptr<Daemon> daemon(new Daemon(pid, options));
  const absl::Time deadline = absl::Now() + options.start_timeout;
  while (true) {
    struct stat st;
    if (stat(options.socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) return daemon;
    if (!daemon->Running()) {
      return absl::AbortedError(absl::StrFormat("%s exited (status 0x%x) before creating %s: %s",
                                                argv[0], daemon->wait_status_, options.socket_path,
                                                daemon->Log()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrFormat("%s did not create %s: %s", argv[0], options.socket_path, daemon->Log()));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

Daemon::~Daemon() { Stop().IgnoreError(); }

bool Daemon::Running() {
  if (reaped_) return false;
  const pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

absl::StatusOr<int> Daemon::Stop(absl::Duration grace) {
  if (stopped_) return wait_status_;
  if (Running()) {
    kill(-pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + grace;
    while (Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    if (Running()) {
      kill(-pid_, SIGKILL);
      if (waitpid(pid_, &wait_status_, 0) != pid_) return ErrnoError(errno, "waitpid");
      reaped_ = true;
    }
  }
  // Helpers the daemon forked stay in its group; they go too. The group id stays
  // reserved while any member lives, so this reaches no one else.
  kill(-pid_, SIGKILL);
  stopped_ = true;
  unlink(options_.socket_path.c_str());
  return wait_status_;
}

std::string Daemon::Log() const {
  std::ifstream file(options_.log_path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

}  // namespace virtiofsd::driver
