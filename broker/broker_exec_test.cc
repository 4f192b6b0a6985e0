// The real executable, as the launcher starts it: in each sandbox mode it serves
// a share through an inherited channel, the hostile requests of the escape suite
// still reach nothing outside, and /proc/<broker>/status shows only the expected
// capabilities, seccomp mode 2 and NoNewPrivs 1. It exits 0 when the channel
// closes, and 2 for a bad configuration (or any argument at all).

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "broker/capabilities.h"
#include "broker/testing/test_broker.h"
#include "common/channel/broker_client.h"
#include "common/child_config.h"
#include "common/status_matchers.h"
#include "common/testing/config_text.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace virtiofsd::testing {
namespace {

constexpr uint64_t kRoot = 1;

std::string BrokerPath() {
  return std::string(getenv("TEST_SRCDIR")) + "/virtiofsd/broker/virtiofsd-broker";
}

// Starts the broker as the launcher does: the child end of a SEQPACKET pair as
// fd 3, `config` on fd 6 and no arguments (unless `args` are given), after
// `prepare` (in the child) when given.
pid_t SpawnWith(UniqueFd config, UniqueFd& client_end, void (*prepare)(const std::string&),
                const std::string& dir, std::vector<std::string> args = {}) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
  const pid_t pid = fork();
  if (pid == 0) {
    if (prepare != nullptr) prepare(dir);
    // Out of the way of the targets first (the memfd may well be fd 3).
    const int config_fd = config.valid() ? fcntl(config.get(), F_DUPFD_CLOEXEC, 100) : -1;
    dup2(sv[1], kChildChannelFd);  // dup2 clears FD_CLOEXEC.
    if (config_fd >= 0) {
      dup2(config_fd, kChildConfigFd);
    } else {
      close(kChildConfigFd);
    }
    std::vector<char*> argv;
    std::string path = BrokerPath();
    argv.push_back(path.data());
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    // LeakSanitizer's exit-time scan (sanitizer builds) needs ptrace, which the
    // broker's seccomp policy rightly forbids.
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(sv[1]);
  client_end.Reset(sv[0]);
  return pid;
}

// With a BrokerConfig in text format.
pid_t Spawn(const std::string& config, UniqueFd& client_end,
            void (*prepare)(const std::string&) = nullptr, const std::string& dir = "") {
  return SpawnWith(ConfigMemfdFromText<proto::BrokerConfig>(config), client_end, prepare, dir);
}

// "channel_fd: 3 shared_dir: DIR sandbox: SANDBOX" and `more`.
std::string Config(const std::string& dir, const std::string& sandbox, const std::string& more) {
  return absl::StrCat("channel_fd: 3 shared_dir: '", dir, "' sandbox: '", sandbox, "' ", more);
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::map<std::string, std::string> Status(pid_t pid) {
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

// The process that serves: in namespace mode the child of the one we started.
pid_t ServingPid(pid_t started, const std::string& sandbox) {
  if (sandbox != "namespace") return started;
  std::ifstream in("/proc/" + std::to_string(started) + "/task/" + std::to_string(started) +
                   "/children");
  pid_t child = -1;
  in >> child;
  return child;
}

class BrokerExecTest : public ::testing::TestWithParam<std::string> {
 protected:
  BrokerExecTest() {
    mkdir(tmp_.Path("outside").c_str(), 0755);
    close(open(tmp_.Path("outside/secret").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    mkdir(tmp_.Path("share").c_str(), 0755);
    UniqueFd f(open(tmp_.Path("share/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    write(f.get(), "data", 4);
    symlink(tmp_.Path("outside/secret").c_str(), tmp_.Path("share/abs").c_str());
    symlink("../outside", tmp_.Path("share/rel").c_str());
    have_device_ = mknod(tmp_.Path("share/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  }

  Result Call(BrokerClient& client, proto::Request request) {
    request.mutable_caller()->set_umask(022);
    Result result;
    absl::StatusOr<BrokerResponse> response = client.Call(std::move(request));
    if (!response.ok()) {
      ADD_FAILURE() << response.status();
      return result;
    }
    result.error = response->reply.error();
    result.reply = std::move(response->reply);
    result.fd = std::move(response->fd);
    return result;
  }

  TempDir tmp_;
  bool have_device_ = false;
};

TEST_P(BrokerExecTest, ServesConfinedAndExitsWhenTheChannelCloses) {
  const std::string sandbox = GetParam();
  UniqueFd channel;
  const pid_t pid = Spawn(
      Config(tmp_.Path("share"), sandbox, "seccomp: 'kill' threads: 2 log_level: 'warn'"), channel);
  {
    BrokerClient client(FrameSocket(std::move(channel)));
    proto::Request handshake;
    handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
    ASSERT_EQ(Call(client, handshake).error, 0);

    proto::Request lookup;
    lookup.mutable_lookup()->set_parent(kRoot);
    lookup.mutable_lookup()->set_name("f");
    Result f = Call(client, lookup);
    ASSERT_EQ(f.error, 0);
    proto::Request open_req;
    open_req.mutable_open()->set_node(f.reply.entry().node());
    Result opened = Call(client, open_req);
    ASSERT_EQ(opened.error, 0);
    char buf[8] = {};
    EXPECT_EQ(pread(opened.fd.get(), buf, sizeof(buf), 0), 4);
    EXPECT_STREQ(buf, "data");

    // Escapes: symlinks out, '..', names with '/'.
    for (const char* link : {"abs", "rel"}) {
      lookup.mutable_lookup()->set_name(link);
      Result l = Call(client, lookup);
      ASSERT_EQ(l.error, 0);
      open_req.mutable_open()->set_node(l.reply.entry().node());
      EXPECT_EQ(Call(client, open_req).error, EACCES);
      proto::Request beneath;
      beneath.mutable_lookup()->set_parent(l.reply.entry().node());
      beneath.mutable_lookup()->set_name("secret");
      EXPECT_EQ(Call(client, beneath).error, ENOTDIR);
    }
    for (const std::string& name :
         std::vector<std::string>{"..", "../outside", tmp_.Path("outside/secret")}) {
      lookup.mutable_lookup()->set_name(name);
      EXPECT_EQ(Call(client, lookup).error, EINVAL);
    }
    // Forged and stale ids, and a device node the host put in the share.
    for (uint64_t forged : {uint64_t{0}, uint64_t{2}, uint64_t{1} << 32 | 1, ~uint64_t{0}}) {
      proto::Request getattr;
      getattr.mutable_getattr()->set_node(forged);
      EXPECT_EQ(Call(client, getattr).error, ESTALE) << forged;
    }
    if (have_device_) {  // Bazel's sandbox (a user namespace) cannot make one.
      lookup.mutable_lookup()->set_name("null");
      Result null_node = Call(client, lookup);
      ASSERT_EQ(null_node.error, 0);
      open_req.mutable_open()->set_node(null_node.reply.entry().node());
      open_req.mutable_open()->set_flags(O_RDWR);
      EXPECT_EQ(Call(client, open_req).error, EACCES);
    }

    proto::Request create;
    create.mutable_create()->set_parent(kRoot);
    create.mutable_create()->set_name("new");
    create.mutable_create()->set_flags(O_RDWR);
    create.mutable_create()->set_mode(0644);
    ASSERT_EQ(Call(client, create).error, 0);
    struct stat st;
    EXPECT_EQ(stat(tmp_.Path("share/new").c_str(), &st), 0);

    // Confinement as the kernel reports it.
    ASSERT_OK_AND_ASSIGN(uint64_t expected_caps, BrokerCapabilities({}));
    // Outside namespace mode, CAP_MKNOD only where device nodes cannot be opened.
    struct statvfs share_fs;
    ASSERT_EQ(statvfs(tmp_.Path("share").c_str(), &share_fs), 0);
    if (sandbox != "namespace" && (share_fs.f_flag & ST_NODEV) == 0) {
      expected_caps &= ~(uint64_t{1} << CAP_MKNOD);
    }
    std::map<std::string, std::string> status = Status(ServingPid(pid, sandbox));
    ASSERT_FALSE(status.empty());
    for (const char* set : {"CapEff", "CapPrm"}) {
      uint64_t caps = 0;
      ASSERT_TRUE(absl::SimpleHexAtoi(status[set], &caps)) << status[set];
      EXPECT_EQ(caps, expected_caps) << set;
    }
    for (const char* set : {"CapInh", "CapBnd", "CapAmb"}) {
      uint64_t caps = 1;
      ASSERT_TRUE(absl::SimpleHexAtoi(status[set], &caps)) << status[set];
      EXPECT_EQ(caps, 0u) << set;
    }
    EXPECT_EQ(status["Seccomp"], "2");
    EXPECT_EQ(status["NoNewPrivs"], "1");
    if (sandbox == "namespace") {
      EXPECT_EQ(status["NSpid"].substr(status["NSpid"].find_last_of(" \t") + 1), "1");
      // The waiting parent holds no capabilities either.
      EXPECT_EQ(Status(pid)["CapEff"], "0000000000000000");
    }
  }  // The client closes the channel.
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(access(tmp_.Path("outside/new").c_str(), F_OK), -1);
}

INSTANTIATE_TEST_SUITE_P(Sandbox, BrokerExecTest, ::testing::Values("namespace", "chroot", "none"));

TEST(BrokerExecOptionsTest, BadConfigurationsExitTwo) {
  for (const std::string& config : {
           std::string("shared_dir: '/tmp'"), Config("/tmp", "jail", ""),
           Config("/tmp", "none", "xattr: true xattrmap: ':bogus:'"),
           Config("/tmp", "none", "modcaps: '+nonsense'"),
           Config("/tmp", "none", "translate_uid: 'nonsense'"),
           std::string("channel_fd: 0 shared_dir: '/tmp'"),  // Not a socket.
       }) {
    UniqueFd channel;
    EXPECT_EQ(WaitExit(Spawn(config, channel)), 2) << config;
  }
}

// Started by hand without virtiofsd: whatever is (or is not) on fd 6, and any
// argument, ends in one message and exit status 2 before anything is served.
TEST(BrokerExecOptionsTest, NoOrAMangledConfigurationExitsTwo) {
  const std::string good = EncodeConfig(ConfigFromText<proto::BrokerConfig>(
      Config(::testing::TempDir(), "none", "log_level: 'off'")));
  for (const std::string& bytes :
       {std::string(""), std::string("--shared-dir=/tmp"), good.substr(0, good.size() - 2)}) {
    absl::StatusOr<UniqueFd> memfd = SealedMemfd(bytes);
    ASSERT_TRUE(memfd.ok());
    UniqueFd channel;
    EXPECT_EQ(WaitExit(SpawnWith(*std::move(memfd), channel, nullptr, "")), 2)
        << bytes.size() << " bytes";
  }
  UniqueFd channel;
  EXPECT_EQ(WaitExit(SpawnWith(UniqueFd(), channel, nullptr, "")), 2) << "nothing on fd 6";
  absl::StatusOr<UniqueFd> memfd = SealedMemfd(good);
  ASSERT_TRUE(memfd.ok());
  EXPECT_EQ(WaitExit(SpawnWith(*std::move(memfd), channel, nullptr, "", {"--help"})), 2);
}

// A share that is a filesystem of its own (a tmpfs in the broker's mount
// namespace) keeps file handles: non-directories are held as handles and
// reopened with open_by_handle_at() under the real confinement.
TEST(BrokerExecFileHandlesTest, ServesWithFileHandlesOnAFilesystemRoot) {
  TempDir tmp;
  for (const char* sandbox : {"namespace", "chroot", "none"}) {
    UniqueFd channel;
    const pid_t pid = Spawn(
        Config(tmp.path(), sandbox, "inode_file_handles: 'mandatory' log_level: 'warn'"), channel,
        [](const std::string& dir) {
          if (unshare(CLONE_NEWNS) != 0 ||
              mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
              mount("tmpfs", dir.c_str(), "tmpfs", 0, "mode=0755") != 0) {
            _exit(125);
          }
        },
        tmp.path());
    auto client = std::make_unique<BrokerClient>(FrameSocket(std::move(channel)));
    proto::Request request;
    request.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
    absl::StatusOr<BrokerResponse> response = client->Call(request);
    if (!response.ok()) {
      client.reset();
      const int exit = WaitExit(pid);
      if (exit == 125) GTEST_SKIP() << "cannot mount a tmpfs here";
      FAIL() << sandbox << ": the broker exited " << exit;
    }
    request.Clear();
    request.mutable_caller()->set_umask(022);
    request.mutable_create()->set_parent(kRoot);
    request.mutable_create()->set_name("f");
    request.mutable_create()->set_flags(O_RDWR);
    request.mutable_create()->set_mode(0644);
    response = client->Call(request);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->reply.error(), 0) << sandbox;
    const uint64_t node = response->reply.create().entry().node();
    EXPECT_EQ(pwrite(response->fd.get(), "data", 4, 0), 4);
    request.Clear();
    request.mutable_caller()->set_umask(022);
    request.mutable_open()->set_node(node);
    response = client->Call(request);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->reply.error(), 0) << sandbox;
    char buf[8] = {};
    EXPECT_EQ(pread(response->fd.get(), buf, sizeof(buf), 0), 4) << sandbox;
    client.reset();
    EXPECT_EQ(WaitExit(pid), 0) << sandbox;
  }
}

TEST(BrokerExecOptionsTest, MandatoryFileHandlesOnAShareThatIsNotAFilesystemRootExitTwo) {
  TempDir tmp;  // A directory, never a mount of its own.
  UniqueFd channel;
  EXPECT_EQ(WaitExit(Spawn(Config(tmp.path(), "none", "inode_file_handles: 'mandatory'"), channel)),
            2);
}

// `prefer` (the Rust virtiofsd's default, which Kata passes) serves with O_PATH
// fds instead: the broker completes the handshake rather than exiting.
TEST(BrokerExecOptionsTest, PreferredFileHandlesOnAShareThatIsNotAFilesystemRootFallBack) {
  TempDir tmp;
  UniqueFd channel;
  const pid_t pid =
      Spawn(Config(tmp.path(), "none", "inode_file_handles: 'prefer' log_level: 'off'"), channel);
  FrameSocket socket(std::move(channel));
  ASSERT_TRUE(socket.Send("\xff\xff\xff garbage").ok());
  EXPECT_EQ(WaitExit(pid), 1);  // served (and refused the garbage), did not exit 2
}

TEST(BrokerExecOptionsTest, AMalformedFrameEndsTheBroker) {
  TempDir tmp;
  UniqueFd channel;
  const pid_t pid = Spawn(Config(tmp.path(), "none", "log_level: 'off'"), channel);
  FrameSocket socket(std::move(channel));
  ASSERT_TRUE(socket.Send("\xff\xff\xff garbage").ok());
  EXPECT_EQ(WaitExit(pid), 1);
}

}  // namespace
}  // namespace virtiofsd::testing
