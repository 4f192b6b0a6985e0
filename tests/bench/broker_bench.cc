// Benchmark (not a test): operations per second through the broker (a forked
// child serving a temp dir with the real FileSystem and Server, under its seccomp
// policy, over the real channel) beside the same syscalls made directly.
//
//   bazel run -c opt //tests/bench:broker_bench [-- --seconds=1]

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "broker/filesystem.h"
#include "broker/seccomp_policy.h"
#include "broker/server.h"
#include "common/channel/broker_client.h"
#include "common/channel/frame_socket.h"
#include "common/logging.h"

namespace virtiofsd {
namespace {

// Runs `op` for `seconds`; returns operations per second.
double Rate(double seconds, const std::function<void()>& op) {
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  long count = 0;
  while (true) {
    for (int i = 0; i < 64; ++i) op();
    count += 64;
    if (absl::Now() >= end) break;
  }
  return count / absl::ToDoubleSeconds(absl::Now() - start);
}

[[noreturn]] void Serve(const std::string& share, FrameSocket socket) {
  UniqueFd dir(open(share.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto fs = FileSystem::Create(std::move(dir), std::move(proc), FsConfig());
  if (!fs.ok()) _exit(1);
  Server server(socket, **fs, 2);
  if (!InstallSeccompPolicy(SeccompAction::kKill).ok()) _exit(1);
  _exit(server.Run().ok() ? 0 : 1);
}

proto::Request Req() {
  proto::Request request;
  request.mutable_caller()->set_umask(022);
  return request;
}

void Die(const char* what) {
  fprintf(stderr, "broker_bench: %s failed\n", what);
  exit(1);
}

int Main(int argc, char** argv) {
  double seconds = 1;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--seconds=", 10) == 0) seconds = atof(argv[i] + 10);
  }
  InitLogging("broker_bench", LogLevel::kError);
  char base[] = "/tmp/broker_bench.XXXXXX";
  if (mkdtemp(base) == nullptr) Die("mkdtemp");
  const std::string share = std::string(base) + "/share";
  const std::string direct = std::string(base) + "/direct";
  for (const std::string& dir : {share, direct}) {
    mkdir(dir.c_str(), 0755);
    UniqueFd f(open((dir + "/file").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644));
    std::string block(1 << 20, 'x');
    if (write(f.get(), block.data(), block.size()) < 0) Die("write");
  }

  auto pair = FrameSocket::CreatePair();
  if (!pair.ok()) Die("socketpair");
  const pid_t child = fork();
  if (child == 0) {
    { FrameSocket unused = std::move(pair->first); }
    Serve(share, std::move(pair->second));
  }
  { FrameSocket unused = std::move(pair->second); }
  BrokerClient client(std::move(pair->first));
  auto call = [&](proto::Request request) {
    absl::StatusOr<BrokerResponse> response = client.Call(std::move(request));
    if (!response.ok() || response->reply.error() != 0) Die("request");
    return *std::move(response);
  };
  proto::Request handshake = Req();
  handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
  call(handshake);

  UniqueFd dirfd(open(direct.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  proto::Request lookup = Req();
  lookup.mutable_lookup()->set_parent(1);
  lookup.mutable_lookup()->set_name("file");
  const uint64_t node = call(lookup).reply.entry().node();
  proto::Request forget = Req();
  forget.mutable_forget()->set_node(node);
  forget.mutable_forget()->set_nlookup(1);

  printf("%-28s %14s %14s %8s\n", "operation", "broker ops/s", "direct ops/s", "ratio");
  auto row = [&](const char* name, double broker, double host) {
    printf("%-28s %14.0f %14.0f %8.1f\n", name, broker, host, host / broker);
  };

  row("lookup (+forget)",
      Rate(seconds,
           [&] {
             call(lookup);
             if (!client.SendOneWay(forget).ok()) Die("forget");
           }),
      Rate(seconds, [&] {
        UniqueFd fd(openat(dirfd.get(), "file", O_PATH | O_NOFOLLOW | O_CLOEXEC));
        struct statx st;
        statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st);
      }));

  proto::Request getattr = Req();
  getattr.mutable_getattr()->set_node(node);
  row("getattr", Rate(seconds, [&] { call(getattr); }), Rate(seconds, [&] {
        struct statx st;
        statx(dirfd.get(), "file", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st);
      }));

  proto::Request create = Req();
  create.mutable_create()->set_parent(1);
  create.mutable_create()->set_name("tmp");
  create.mutable_create()->set_flags(O_RDWR);
  create.mutable_create()->set_mode(0644);
  proto::Request unlink_req = Req();
  unlink_req.mutable_unlink()->set_parent(1);
  unlink_req.mutable_unlink()->set_name("tmp");
  row("create+release+unlink",
      Rate(seconds,
           [&] {
             BrokerResponse created = call(create);
             proto::Request release = Req();
             release.mutable_release()->set_handle(created.reply.create().handle());
             call(release);
             proto::Request drop = Req();
             drop.mutable_forget()->set_node(created.reply.create().entry().node());
             drop.mutable_forget()->set_nlookup(1);
             if (!client.SendOneWay(drop).ok()) Die("forget");
             call(unlink_req);
           }),
      Rate(seconds, [&] {
        UniqueFd fd(openat(dirfd.get(), "tmp", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644));
        fd.Reset();
        unlinkat(dirfd.get(), "tmp", 0);
      }));

  proto::Request open_req = Req();
  open_req.mutable_open()->set_node(node);
  open_req.mutable_open()->set_flags(O_RDONLY);
  BrokerResponse opened = call(open_req);
  UniqueFd direct_fd(openat(dirfd.get(), "file", O_RDONLY | O_CLOEXEC));
  char buf[4096];
  long offset = 0;
  row("4 KiB pread (returned fd)",
      Rate(seconds,
           [&] {
             if (pread(opened.fd.get(), buf, sizeof(buf), (offset++ % 256) * 4096) != 4096) {
               Die("pread");
             }
           }),
      Rate(seconds, [&] {
        if (pread(direct_fd.get(), buf, sizeof(buf), (offset++ % 256) * 4096) != 4096) {
          Die("pread");
        }
      }));

  client.Shutdown();
  int status = 0;
  waitpid(child, &status, 0);
  nftw(
      base, [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) { return virtiofsd::Main(argc, argv); }
