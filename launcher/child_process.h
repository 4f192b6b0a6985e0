// One child process of the launcher: started by fork + exec with exactly the fds
// it needs, and watched through a pidfd.
//
// In the child, before exec: each FdMapping's source is duplicated onto its
// target (without O_CLOEXEC), every other fd above 2 is closed, the signal mask
// is cleared, the child gets its own process group (a terminal's Ctrl-C reaches
// only the launcher, which stops both children in order), and it is killed if the
// launcher dies (PR_SET_PDEATHSIG). no_new_privs is NOT set here: each child sets
// it itself after exec, so SELinux/AppArmor domain transitions on exec still work.

#ifndef VIRTIOFSD_LAUNCHER_CHILD_PROCESS_H_
#define VIRTIOFSD_LAUNCHER_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/unique_fd.h"
#include "launcher/child_exit.h"

namespace virtiofsd {

struct FdMapping {
  int source;  // borrowed from the caller for the duration of Spawn()
  int target;
};

class ChildProcess {
 public:
  // Starts `path` with argv {path, args...} and the launcher's environment.
  // Returns once the exec has succeeded. Errors: the errno of fork/clone/pidfd_open
  // (EPERM: no privilege for a new PID namespace), or of the child's failed exec
  // (reported back through a close-on-exec pipe).
  static absl::StatusOr<ChildProcess> Spawn(const std::string& path,
                                            const std::vector<std::string>& args,
                                            absl::Span<const FdMapping> fds,
                                            bool new_pid_namespace = false);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  // Kills (SIGKILL) and reaps a child that is still running: none is left behind.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Becomes readable (POLLIN) when the child exits.
  int pidfd() const { return pidfd_.get(); }

  // Sends `signal` unless the child has been reaped.
  void Signal(int signal);

  // Reaps the child if it has exited; nullopt while it runs. Idempotent.
  std::optional<ChildExit> TryReap();

 private:
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

  pid_t pid_;
  UniqueFd pidfd_;
  std::optional<ChildExit> exit_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_PROCESS_H_
