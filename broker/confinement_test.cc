// Code executed inside a confined broker: a forked child runs ConfineBroker(),
// exactly what virtiofsd-broker runs before its first request, and then acts as
// an attacker who owns the process would, with the fds the broker holds (the
// share, /proc/self/fd, a mount fd for file handles) and the syscalls its
// seccomp filter allows. Every sandbox mode, with and without file handles.
// The cases are those of broker/README.md "Threat model".

#include "broker/confinement.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "broker/capabilities.h"
#include "broker/testing/test_broker.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::TempDir;

// What the attacker saw: step name -> errno (0: the step succeeded).
using Outcome = std::map<std::string, int>;

class Report {
 public:
  void Add(const std::string& step, long result) {
    text_ += absl::StrCat(step, "=", result < 0 ? errno : 0, "\n");
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

using Attack = std::function<void(const SandboxFds&, Report&)>;

struct Confined {
  int exit_code = -1;   // The confined process's exit status (signal: 128 + N).
  std::string confine;  // ConfineBroker()'s error, empty when it succeeded.
  Outcome steps;
};

std::string ReadAll(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, n);
  return text;
}

class ConfinementTest : public ::testing::TestWithParam<std::tuple<SandboxMode, bool>> {
 protected:
  ConfinementTest() {
    mkdir(tmp_.Path("outside").c_str(), 0755);
    WriteFile(tmp_.Path("outside/secret"));
    mkdir(tmp_.Path("share").c_str(), 0755);
    WriteFile(tmp_.Path("share/f"));
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "confining a broker needs root";
  }

  static void WriteFile(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    (void)!write(fd.get(), "data", 4);
  }

  SandboxMode mode() const { return std::get<0>(GetParam()); }
  bool file_handles() const { return std::get<1>(GetParam()); }

  BrokerOptions Options() const {
    BrokerOptions options;
    options.shared_dir = tmp_.Path("share");
    options.sandbox = mode();
    options.seccomp = SeccompAction::kKill;
    options.inode_file_handles = file_handles() ? FileHandleMode::kPrefer : FileHandleMode::kNever;
    return options;
  }

  // Confines a forked child as the broker executable would and runs `attack` in
  // it. With `tmpfs_share` the share is first made a filesystem of its own (in
  // the child's mount namespace), as file handles require.
  Confined Confine(const BrokerOptions& options, bool tmpfs_share, const Attack& attack) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) abort();
    const pid_t pid = fork();
    if (pid == 0) {
      close(out[0]);
      if (tmpfs_share) {
        if (unshare(CLONE_NEWNS) != 0 ||
            mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", options.shared_dir.c_str(), "tmpfs", 0, "mode=0755") != 0) {
          _exit(120);
        }
        WriteFile(options.shared_dir + "/f");
      }
      absl::StatusOr<uint64_t> caps =
          BrokerCapabilities({}, options.inode_file_handles != FileHandleMode::kNever);
      absl::StatusOr<SandboxFds> fds = ConfineBroker(options, *caps);
      Report report;
      if (!fds.ok()) {
        const std::string text = "confine:" + fds.status().ToString();
        (void)!write(out[1], text.data(), text.size());
        _exit(3);
      }
      attack(*fds, report);
      (void)!write(out[1], report.text().data(), report.text().size());
      _exit(0);
    }
    close(out[1]);
    Confined run;
    const std::string text = ReadAll(out[0]);
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (text.rfind("confine:", 0) == 0) {
      run.confine = text.substr(8);
      return run;
    }
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
      int err = -1;
      if (absl::SimpleAtoi(kv.second, &err)) run.steps[kv.first] = err;
    }
    return run;
  }

  // Confines as Options() say (file handles: on a tmpfs share) and checks the
  // broker came up and the attack ran to its end.
  Outcome Attacked(const Attack& attack) {
    Confined run = Confine(Options(), file_handles(), attack);
    EXPECT_EQ(run.confine, "");
    EXPECT_EQ(run.exit_code, 0) << "the attack did not run to its end";
    return run.steps;
  }

  TempDir tmp_;
};

// An open that succeeded is closed at once: nothing is written anywhere.
long TryOpen(int dir, const std::string& path, int flags) {
  const int fd = openat(dir, path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
  return fd;
}

// From /proc/self/fd, "../.." is the procfs root.
constexpr char kProcRoot[] = "../../";

// Writing /proc/sys/kernel/core_pattern runs any program as host root.
TEST_P(ConfinementTest, HostSysctlsAndSysrqAreNotWritable) {
  Outcome out = Attacked([](const SandboxFds& fds, Report& r) {
    const int proc = fds.proc_self_fd.get();
    r.Add("core_pattern via /proc/self/fd",
          TryOpen(proc, std::string(kProcRoot) + "sys/kernel/core_pattern", O_WRONLY));
    r.Add("sysrq-trigger via /proc/self/fd",
          TryOpen(proc, std::string(kProcRoot) + "sysrq-trigger", O_WRONLY));
    r.Add("/proc/sys/kernel/core_pattern",
          TryOpen(AT_FDCWD, "/proc/sys/kernel/core_pattern", O_WRONLY));
    r.Add("/proc/sysrq-trigger", TryOpen(AT_FDCWD, "/proc/sysrq-trigger", O_WRONLY));
  });
  ASSERT_EQ(out.size(), 4u);
  for (const auto& [step, err] : out) EXPECT_NE(err, 0) << step << " opened for writing";
}

// The host's files: through the procfs fd ("../../.." leaves a chroot), by
// absolute path, and by creating beside them.
TEST_P(ConfinementTest, NothingOutsideTheShareOpensOrIsCreated) {
  const std::string secret = tmp_.Path("outside/secret");
  const std::string outside = tmp_.Path("outside");
  Outcome out = Attacked([&](const SandboxFds& fds, Report& r) {
    const int proc = fds.proc_self_fd.get();
    const std::string up = std::string(kProcRoot) + "..";
    r.Add("secret via /proc/self/fd", TryOpen(proc, up + secret, O_RDONLY));
    r.Add("/etc/hostname via /proc/self/fd", TryOpen(proc, up + "/etc/hostname", O_RDONLY));
    r.Add("secret by path", TryOpen(AT_FDCWD, secret, O_RDWR));
    r.Add("create beside secret via /proc/self/fd",
          TryOpen(proc, up + outside + "/new", O_CREAT | O_WRONLY));
    r.Add("create beside secret by path", TryOpen(AT_FDCWD, outside + "/new", O_CREAT | O_WRONLY));
    r.Add("mkdir beside secret via /proc/self/fd",
          mkdirat(proc, (up + outside + "/dir").c_str(), 0755));
    r.Add("unlink secret via /proc/self/fd", unlinkat(proc, (up + secret).c_str(), 0));
  });
  ASSERT_EQ(out.size(), 7u);
  for (const auto& [step, err] : out) EXPECT_NE(err, 0) << step << " succeeded";
  struct stat st;
  EXPECT_EQ(stat(secret.c_str(), &st), 0);
  EXPECT_NE(stat((outside + "/new").c_str(), &st), 0);
  EXPECT_NE(stat((outside + "/dir").c_str(), &st), 0);
}

// What the broker needs still works under the confinement: files beneath the
// share open, /proc/self/fd reopens a held O_PATH fd, and the xattr calls
// reach a held fd through it.
TEST_P(ConfinementTest, TheShareAndOwnFdsStayUsable) {
  Outcome out = Attacked([](const SandboxFds& fds, Report& r) {
    r.Add("open f", TryOpen(fds.shared_dir.get(), "f", O_RDWR));
    const int path_fd = openat(fds.shared_dir.get(), "f", O_PATH | O_CLOEXEC);
    r.Add("O_PATH f", path_fd);
    r.Add("reopen via /proc/self/fd",
          TryOpen(fds.proc_self_fd.get(), std::to_string(path_fd), O_RDONLY));
    r.Add("create g", TryOpen(fds.shared_dir.get(), "g", O_CREAT | O_WRONLY));
    r.Add("fchdir /proc/self/fd", fchdir(fds.proc_self_fd.get()));
    char value[8];
    const long got = getxattr(std::to_string(path_fd).c_str(), "user.none", value, sizeof(value));
    r.Add("getxattr through /proc/self/fd", got < 0 && errno == ENODATA ? 0 : -1);
  });
  ASSERT_EQ(out.size(), 6u);
  for (const auto& [step, err] : out) EXPECT_EQ(err, 0) << step;
}

// A device node the attacker makes (with CAP_MKNOD) must not open: the host's
// disks would be a mknod away. Guests may still make them in namespace mode
// (the share is nodev there).
TEST_P(ConfinementTest, DeviceNodesOnTheShareDoNotOpen) {
  Outcome out = Attacked([](const SandboxFds& fds, Report& r) {
    const int share = fds.shared_dir.get();
    r.Add("mknod", mknodat(share, "null", S_IFCHR | 0666, makedev(1, 3)));
    r.Add("open device", TryOpen(share, "null", O_RDWR));
    struct statvfs st;
    r.Add("statvfs", fstatvfs(share, &st));
    r.Add("nodev", (st.f_flag & ST_NODEV) ? 0 : -1);
    r.Add("nosuid", (st.f_flag & ST_NOSUID) ? 0 : -1);
  });
  ASSERT_EQ(out.size(), 5u);
  EXPECT_NE(out["open device"], 0) << "a device node on the share opened";
  if (mode() == SandboxMode::kNamespace) {
    EXPECT_EQ(out["mknod"], 0) << "guests can make device nodes";
    EXPECT_EQ(out["nodev"], 0);
    EXPECT_EQ(out["nosuid"], 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ConfinementTest,
                         ::testing::Combine(::testing::Values(SandboxMode::kNamespace,
                                                              SandboxMode::kChroot,
                                                              SandboxMode::kNone),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<SandboxMode, bool>>& info) {
                           const SandboxMode mode = std::get<0>(info.param);
                           return std::string(mode == SandboxMode::kNamespace ? "Namespace"
                                              : mode == SandboxMode::kChroot  ? "Chroot"
                                                                              : "None") +
                                  (std::get<1>(info.param) ? "FileHandles" : "");
                         });

class FileHandleConfinementTest : public ConfinementTest {};

// A file handle names any inode of a filesystem: from a share that is a mere
// directory, open_by_handle_at() would open the rest of the filesystem. Such a
// share is refused; a share that is a filesystem's root keeps file handles.
TEST_P(FileHandleConfinementTest, HandlesCannotOpenFilesOutsideTheShare) {
  struct {
    file_handle head;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle = {};
  handle.head.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  ASSERT_EQ(
      name_to_handle_at(AT_FDCWD, tmp_.Path("outside/secret").c_str(), &handle.head, &mount_id, 0),
      0);
  BrokerOptions options = Options();
  options.inode_file_handles = FileHandleMode::kMandatory;
  Confined run = Confine(options, false, [&](const SandboxFds& fds, Report& r) {
    const int mount_fd = openat(fds.shared_dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    r.Add("mount fd", mount_fd);
    for (int flags : {O_RDONLY, O_PATH}) {
      const int fd = open_by_handle_at(mount_fd, &handle.head, flags | O_CLOEXEC);
      r.Add(flags == O_PATH ? "O_PATH secret by handle" : "secret by handle", fd);
      if (fd >= 0) close(fd);
    }
  });
  if (run.confine.empty()) {
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_NE(run.steps["secret by handle"], 0) << "open_by_handle_at left the share";
    EXPECT_NE(run.steps["O_PATH secret by handle"], 0) << "open_by_handle_at left the share";
  } else {
    EXPECT_NE(run.confine.find("--inode-file-handles=mandatory"), std::string::npos) << run.confine;
  }

  // A share that is a filesystem of its own: handles work beneath it.
  run = Confine(options, true, [&](const SandboxFds& fds, Report& r) {
    struct {
      file_handle head;
      unsigned char bytes[MAX_HANDLE_SZ];
    } own = {};
    own.head.handle_bytes = MAX_HANDLE_SZ;
    int id = 0;
    r.Add("name_to_handle_at f", name_to_handle_at(fds.shared_dir.get(), "f", &own.head, &id, 0));
    const int mount_fd = openat(fds.shared_dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int fd = open_by_handle_at(mount_fd, &own.head, O_RDONLY | O_CLOEXEC);
    r.Add("f by handle", fd);
  });
  EXPECT_EQ(run.confine, "");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.steps["name_to_handle_at f"], 0);
  EXPECT_EQ(run.steps["f by handle"], 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, FileHandleConfinementTest,
                         ::testing::Combine(::testing::Values(SandboxMode::kNamespace,
                                                              SandboxMode::kChroot,
                                                              SandboxMode::kNone),
                                            ::testing::Values(true)));

std::map<std::string, std::string> ProcStatus(pid_t pid) {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

// In namespace mode the process the launcher started stays outside the pid
// namespace, waiting for the broker: it holds no capability and can make no
// syscall but wait and exit.
TEST(NamespaceWaiterTest, CanOnlyWaitAndExit) {
  if (geteuid() != 0) GTEST_SKIP() << "confining a broker needs root";
  TempDir tmp;
  int ready[2], go[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
  const pid_t waiter = fork();
  if (waiter == 0) {
    close(ready[0]);
    close(go[1]);
    BrokerOptions options;
    options.shared_dir = tmp.path();
    absl::StatusOr<SandboxFds> fds = ConfineBroker(options, *BrokerCapabilities({}));
    if (!fds.ok()) _exit(3);
    char byte = 0;
    (void)!write(ready[1], &byte, 1);
    (void)!read(go[0], &byte, 1);
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  // The broker may be ready before the waiter (its parent) has confined itself.
  std::map<std::string, std::string> status = ProcStatus(waiter);
  for (int i = 0; i < 1000 && status["Seccomp"] != "2"; ++i) {
    usleep(10'000);
    status = ProcStatus(waiter);
  }
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000000");
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");
  close(go[1]);
  close(ready[0]);
  int wait_status = 0;
  ASSERT_EQ(waitpid(waiter, &wait_status, 0), waiter);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << wait_status;
}

}  // namespace
}  // namespace virtiofsd
