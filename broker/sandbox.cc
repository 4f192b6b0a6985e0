#include "broker/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/capabilities.h"
#include "broker/seccomp_policy.h"
#include "common/logging.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

UniqueFd OpenDir(const char* path) {
  return UniqueFd(open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

absl::StatusOr<SandboxFds> OpenFds(const std::string& shared_dir) {
  SandboxFds fds;
  fds.proc_self_fd = OpenDir("/proc/self/fd");
  if (!fds.proc_self_fd.valid()) return ErrnoError(errno, "open /proc/self/fd");
  fds.shared_dir = OpenDir(shared_dir.c_str());
  if (!fds.shared_dir.valid()) return ErrnoError(errno, "open " + shared_dir);
  return fds;
}

absl::Status WriteProcFile(const char* path, const std::string& text) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  if (!fd.valid() ||
      write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoError(errno, path);
  }
  return absl::OkStatus();
}

// The parent of the namespaced broker: holds nothing, can only wait and exit,
// reports. A filter it cannot install ends it (and so the child, by PDEATHSIG).
[[noreturn]] void WaitAndExit(pid_t child) {
  // Not dumpable: no process without CAP_SYS_PTRACE can ptrace it or read its
  // memory, though it has no capability left.
  if (!ApplyCapabilities(0).ok() || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
      !InstallWaiterSeccompPolicy().ok()) {
    _exit(1);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// mount_setattr(2) (Linux 5.12); the system headers may lack it, and
// <linux/mount.h> clashes with <sys/mount.h>.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrNosuid = 0x2;
constexpr uint64_t kMountAttrNodev = 0x4;
constexpr int kAtRecursive = 0x8000;

// Device nodes on the share (ours or a guest's) cannot be opened, set-id bits do
// nothing, on the share and every mount beneath it, in our mount namespace.
absl::Status MakeNodevNosuid(const std::string& dir) {
  MountAttr attr = {kMountAttrNosuid | kMountAttrNodev, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, dir.c_str(), kAtRecursive, &attr, sizeof(attr)) == 0) {
    return absl::OkStatus();
  }
  if (errno != ENOSYS) return ErrnoError(errno, "make the shared dir nodev,nosuid");
  // Older kernels: the share's own mount only, keeping the flags it has (a user
  // namespace may not clear locked ones).
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) < 0) return ErrnoError(errno, "statvfs the shared dir");
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
  for (auto [have, keep] :
       {std::pair{ST_RDONLY, MS_RDONLY}, std::pair{ST_NOEXEC, MS_NOEXEC},
        std::pair{ST_NOATIME, MS_NOATIME}, std::pair{ST_NODIRATIME, MS_NODIRATIME},
        std::pair{ST_RELATIME, MS_RELATIME}}) {
    if (st.f_flag & have) flags |= keep;
  }
  if (mount(nullptr, dir.c_str(), nullptr, flags, nullptr) < 0) {
    return ErrnoError(errno, "remount the shared dir nodev,nosuid");
  }
  return absl::OkStatus();
}

absl::StatusOr<SandboxFds> EnterNamespaces(const std::string& shared_dir) {
  const bool root = geteuid() == 0;
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  // Pid 1 is the first process of its namespace: our parent made it for us.
  const bool own_pid_namespace = getpid() == 1;
  int flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!own_pid_namespace) flags |= CLONE_NEWPID;
  if (!root) flags |= CLONE_NEWUSER;
  if (unshare(flags) < 0) return ErrnoError(errno, "unshare namespaces");
  if (!root) {
    VFSD_RETURN_IF_ERROR(WriteProcFile("/proc/self/setgroups", "deny"));
    VFSD_RETURN_IF_ERROR(WriteProcFile("/proc/self/uid_map", absl::StrCat("0 ", uid, " 1")));
    VFSD_RETURN_IF_ERROR(WriteProcFile("/proc/self/gid_map", absl::StrCat("0 ", gid, " 1")));
  }
  if (!own_pid_namespace) {
    const pid_t child = fork();
    if (child < 0) return ErrnoError(errno, "fork");
    if (child > 0) WaitAndExit(child);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  }

  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    return ErrnoError(errno, "make / private");
  }
  // A /proc of our own pid namespace holding only our own /proc/PID (subset=pid:
  // no /proc/sys, no /proc/sysrq-trigger, no other process). Where the host's
  // /proc has parts hidden (container runtimes) the kernel refuses, and the
  // inherited one serves, with Landlock as the only bound on what it opens.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0) {
    VFSD_LOG(kWarn, "cannot mount a private /proc (subset=pid): %s; using the inherited one",
             strerror(errno));
  }
  UniqueFd proc_self_fd = OpenDir("/proc/self/fd");
  if (!proc_self_fd.valid()) return ErrnoError(errno, "open /proc/self/fd");
  if (mount(shared_dir.c_str(), shared_dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
    return ErrnoError(errno, "bind mount the shared dir");
  }
  VFSD_RETURN_IF_ERROR(MakeNodevNosuid(shared_dir));
  if (chdir(shared_dir.c_str()) < 0) return ErrnoError(errno, "chdir to the shared dir");
  if (syscall(SYS_pivot_root, ".", ".") < 0) return ErrnoError(errno, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0) return ErrnoError(errno, "detach the old root");
  if (chdir("/") < 0) return ErrnoError(errno, "chdir /");
  SandboxFds fds;
  fds.proc_self_fd = std::move(proc_self_fd);
  fds.shared_dir = OpenDir("/");
  if (!fds.shared_dir.valid()) return ErrnoError(errno, "open the new root");
  return fds;
}

}  // namespace

absl::StatusOr<SandboxFds> EnterSandbox(SandboxMode mode, const std::string& shared_dir) {
  switch (mode) {
    case SandboxMode::kNone:
      return OpenFds(shared_dir);
    case SandboxMode::kChroot: {
      VFSD_ASSIGN_OR_RETURN(SandboxFds fds, OpenFds(shared_dir));
      if (chroot(shared_dir.c_str()) < 0) return ErrnoError(errno, "chroot");
      if (chdir("/") < 0) return ErrnoError(errno, "chdir /");
      return fds;
    }
    case SandboxMode::kNamespace:
      return EnterNamespaces(shared_dir);
  }
  return absl::InvalidArgumentError("unknown sandbox mode");
}

}  // namespace virtiofsd
