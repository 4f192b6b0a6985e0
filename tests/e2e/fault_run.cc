#include "tests/e2e/fault_run.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/e2e/harness.h"

namespace virtiofsd::e2e {

std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> all;
  std::ifstream children(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  for (pid_t child; children >> child;) {
    all.push_back(child);
    for (pid_t grandchild : Descendants(child)) all.push_back(grandchild);
  }
  return all;
}

std::string ExeName(pid_t pid) {
  char target[4096];
  const ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), target, sizeof(target));
  if (n <= 0) return "";
  const std::string path(target, n);
  return path.substr(path.rfind('/') + 1);
}

bool Ended(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("State:", 0) == 0) return line.find('Z') != std::string::npos;
  }
  return true;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

FaultRun RunFaultGuest(const FaultRunOptions& options) {
  FaultRun run;
  run.error = MissingGuest();
  if (!run.error.empty()) return run;
  const std::string guest_dir = GuestDir();
  const std::string logs =
      Env("TEST_UNDECLARED_OUTPUTS_DIR", Env("TEST_TMPDIR", "/tmp")) + "/" + options.name;
  mkdir(logs.c_str(), 0755);
  const std::string out = logs + "/run_guest.stdout";
  const std::string err = logs + "/run_guest.stderr";
  const std::string run_guest = Runfile("tools/guest/run_guest.sh");
  const std::string script = Runfile(options.script);
  const std::string timeout = std::to_string(options.timeout_s);
  const char* argv[] = {run_guest.c_str(),     "--daemon",  options.daemon.c_str(), "--shared-dir",
                        options.share.c_str(), "--script",  script.c_str(),         "--guest-dir",
                        guest_dir.c_str(),     "--timeout", timeout.c_str(),        "--log",
                        logs.c_str(),          nullptr};
  const pid_t pid = fork();
  if (pid < 0) {
    run.error = "fork failed";
    return run;
  }
  if (pid == 0) {
    const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out_fd < 0 || err_fd < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    execv(argv[0], const_cast<char**>(argv));
    _exit(127);
  }
  bool acted = options.trigger.empty();
  int status = 0;
  while (waitpid(pid, &status, acted ? 0 : WNOHANG) == 0) {
    if (Exists(options.share + "/" + options.trigger)) {
      run.acted = options.act(pid);
      acted = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.output = ReadFile(out);
  run.log = ReadFile(err);
  run.daemon_log = ReadFile(logs + "/daemon.log");
  run.console = ReadFile(logs + "/console.log");
  run.cases = ParseCases(run.output);
  if (!acted) run.error = "the guest never created " + options.trigger;
  return run;
}

}  // namespace virtiofsd::e2e
