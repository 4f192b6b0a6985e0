// virtiofsd: the command users, QEMU scripts, libvirt and Kata start. It parses the
// Rust virtiofsd's command line, makes the vhost-user listening socket and the
// broker channel, starts virtiofsd-broker and virtiofsd-frontend by exec with only
// the fds each needs, and supervises them (see supervisor.h for how it ends).
//
// Exit status: 0 on a stop signal or when the VMM disconnects; 2 for a bad command
// line (ours or, as reported by its exit status, a child's); 1 for anything else,
// also once a broker has died under a connected VMM and could not be replaced
// (see supervisor.h).

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "broker/nofile_limit.h"
#include "common/channel/frame_socket.h"
#include "common/child_config.h"
#include "common/launcher_link.h"
#include "common/logging.h"
#include "common/status.h"
#include "launcher/child_configs.h"
#include "launcher/child_links.h"
#include "launcher/child_locator.h"
#include "launcher/child_process.h"
#include "launcher/frontend_identity.h"
#include "launcher/listen_socket.h"
#include "launcher/options.h"
#include "launcher/pid_file.h"
#include "launcher/stop_signals.h"
#include "launcher/supervisor.h"
#include "launcher/syslog_writer.h"
#include "launcher/usage.h"

namespace virtiofsd {
namespace {

// How long a child may take to exit after SIGTERM before it gets SIGKILL.
constexpr absl::Duration kStopGrace = absl::Seconds(5);

int Fail(absl::string_view what, const absl::Status& status) {
  VFSD_LOG(kError, "%s: %s", what, status.message());
  return 1;
}

// What the daemon holds while it runs; cleaned up when Run() returns.
struct Endpoint {
  std::optional<PidFile> pid_file;
  std::optional<ListenSocket> socket;
  UniqueFd listen_fd;

  ~Endpoint() {
    if (socket.has_value()) RemoveIfOurs(*socket);
    if (pid_file.has_value()) pid_file->Remove();
  }
};

absl::Status OpenEndpoint(const Options& options, Endpoint& endpoint) {
  if (options.listen_fd.has_value()) {
    VFSD_ASSIGN_OR_RETURN(endpoint.listen_fd, AdoptListenFd(*options.listen_fd));
    return absl::OkStatus();
  }
  std::optional<gid_t> group;
  if (options.socket_group.has_value()) {
    VFSD_ASSIGN_OR_RETURN(group, LookupGroup(*options.socket_group));
  }
  VFSD_ASSIGN_OR_RETURN(endpoint.pid_file,
                        PidFile::Acquire(absl::StrCat(options.socket_path, ".pid")));
  VFSD_ASSIGN_OR_RETURN(endpoint.socket, CreateListenSocket(options.socket_path, group));
  endpoint.listen_fd = std::move(endpoint.socket->fd);
  return absl::OkStatus();
}

std::string ReadProcFile(const char* path) {
  std::string text(4096, '\0');
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  const ssize_t n = fd.valid() ? read(fd.get(), text.data(), text.size()) : -1;
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

// The frontend's configuration, with the identity only the launcher can decide.
proto::FrontendConfig FrontendConfig(const Options& options) {
  const FrontendIdentity identity = ChooseFrontendIdentity(
      options.frontend_id_base, static_cast<uint32_t>(getpid()), ReadProcFile("/proc/self/uid_map"),
      ReadProcFile("/proc/self/gid_map"));
  if (!identity.unique && options.frontend_id_base != 0) {
    VFSD_LOG(kWarn,
             "uid/gid %u + pid is not mapped in this user namespace: the frontend runs as "
             "nobody (65534), shared with other instances",
             options.frontend_id_base);
  }
  return FrontendConfigFor(options, identity);
}

// In a PID namespace of its own where the launcher may make one.
absl::StatusOr<ChildProcess> SpawnFrontend(const std::string& path,
                                           absl::Span<const FdMapping> fds) {
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Spawn(path, {}, fds, /*new_pid_namespace=*/true);
  if (child.ok() || ErrnoOf(child.status()) != EPERM) return child;
  VFSD_LOG(kWarn, "no privilege for a PID namespace: the frontend shares the launcher's");
  return ChildProcess::Spawn(path, {}, fds);
}

// In namespace mode, as pid 1 of a PID namespace the launcher makes: then the
// broker needs no process of its own waiting outside it (broker/sandbox.h).
// Without the privilege for it, the broker makes the namespace itself.
absl::StatusOr<ChildProcess> SpawnBroker(const std::string& path, SandboxMode sandbox,
                                         absl::Span<const FdMapping> fds) {
  if (sandbox == SandboxMode::kNamespace) {
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Spawn(path, {}, fds, /*new_pid_namespace=*/true);
    if (child.ok() || ErrnoOf(child.status()) != EPERM) return child;
  }
  return ChildProcess::Spawn(path, {}, fds);
}

int Run(Options options, SyslogWriter* syslog) {
  // The broker takes an absolute path: it may pivot_root or chroot into it.
  char* shared_dir = realpath(options.shared_dir.c_str(), nullptr);
  if (shared_dir == nullptr) {
    return Fail(absl::StrCat("shared directory ", options.shared_dir),
                ErrnoError(errno, "realpath"));
  }
  options.shared_dir = shared_dir;
  free(shared_dir);
  struct stat shared_stat;
  if (stat(options.shared_dir.c_str(), &shared_stat) == 0 && !S_ISDIR(shared_stat.st_mode)) {
    // As the Rust virtiofsd, only a directory is shared; say so before any child starts.
    VFSD_LOG(kError, "shared directory %s is not a directory", options.shared_dir);
    return 2;
  }
  auto frontend_path = FindChildBinary(kFrontendBinary);
  if (!frontend_path.ok()) return Fail("frontend", frontend_path.status());
  auto broker_path = FindChildBinary(kBrokerBinary);
  if (!broker_path.ok()) return Fail("broker", broker_path.status());

  // Blocked before any child exists, so no stop signal is lost or inherited.
  auto signal_fd = BlockStopSignals();
  if (!signal_fd.ok()) return Fail("signals", signal_fd.status());

  // One RLIMIT_NOFILE, set here and inherited, that both children are told.
  absl::StatusOr<uint64_t> nofile = RaiseNofileLimit(options.rlimit_nofile.value_or(0));
  if (!nofile.ok()) return Fail("RLIMIT_NOFILE", nofile.status());
  options.rlimit_nofile = *nofile;

  Endpoint endpoint;
  if (absl::Status status = OpenEndpoint(options, endpoint); !status.ok()) {
    return Fail("vhost-user socket", status);
  }
  auto channel = FrameSocket::CreatePair();
  if (!channel.ok()) return Fail("broker channel", channel.status());
  auto links = ChildLinks::Create();
  if (!links.ok()) return Fail("launcher links", links.status());

  // Each child reads its configuration from a sealed memfd (common/child_config.h).
  auto broker_config = ConfigMemfd(BrokerConfigFor(options));
  if (!broker_config.ok()) return Fail("broker configuration", broker_config.status());
  auto frontend_config = ConfigMemfd(FrontendConfig(options));
  if (!frontend_config.ok()) return Fail("frontend configuration", frontend_config.status());

  const FdMapping broker_fds[] = {{channel->first.fd(), kChildChannelFd},
                                  {(*links)->child_end(ChildLinks::kBroker), kChildLauncherFd},
                                  {broker_config->get(), kChildConfigFd}};
  auto broker = SpawnBroker(*broker_path, options.sandbox, broker_fds);
  if (!broker.ok()) return Fail("broker", broker.status());
  const FdMapping frontend_fds[] = {{channel->second.fd(), kChildChannelFd},
                                    {endpoint.listen_fd.get(), kFrontendListenFd},
                                    {(*links)->child_end(ChildLinks::kFrontend), kChildLauncherFd},
                                    {frontend_config->get(), kChildConfigFd}};
  auto frontend = SpawnFrontend(*frontend_path, frontend_fds);
  if (!frontend.ok()) return Fail("frontend", frontend.status());
  // The children hold their ends now; the launcher keeps neither the channel nor
  // the listening socket, so a child's death is seen by the other at once.
  channel->first = FrameSocket(UniqueFd());
  channel->second = FrameSocket(UniqueFd());
  endpoint.listen_fd.Reset();
  broker_config->Reset();
  frontend_config->Reset();
  (*links)->CloseChildEnds(/*keep_broker_end=*/true);
  if (syslog != nullptr) {
    (*links)->StartRelay(
        [syslog](absl::string_view process, pid_t pid, LogLevel level, absl::string_view message) {
          syslog->Write(process, pid, level, message);
        });
  } else {
    (*links)->StartRelay(
        [](absl::string_view process, pid_t pid, LogLevel level, absl::string_view message) {
          const std::string line = StderrLine(process, pid, level, message);
          (void)!write(STDERR_FILENO, line.data(), line.size());
        });
  }

  VFSD_LOG(kInfo, "started broker (pid %d) and frontend (pid %d); waiting for the VMM on %s",
           broker->pid(), frontend->pid(),
           options.listen_fd.has_value() ? absl::StrCat("fd ", *options.listen_fd)
                                         : options.socket_path);
  // A broker that dies while the guest is served is replaced: same executable,
  // same configuration, the same launcher link, a new channel handed to the
  // frontend over its link (common/launcher_link.h).
  BrokerRestarts restarts;
  restarts.respawn = [&]() -> absl::StatusOr<ChildProcess> {
    VFSD_ASSIGN_OR_RETURN(auto pair, FrameSocket::CreatePair());
    VFSD_ASSIGN_OR_RETURN(UniqueFd config, ConfigMemfd(BrokerConfigFor(options)));
    const FdMapping fds[] = {{pair.first.fd(), kChildChannelFd},
                             {(*links)->child_end(ChildLinks::kBroker), kChildLauncherFd},
                             {config.get(), kChildConfigFd}};
    VFSD_ASSIGN_OR_RETURN(ChildProcess child, SpawnBroker(*broker_path, options.sandbox, fds));
    VFSD_RETURN_IF_ERROR(
        HandOverChannel((*links)->own_end(ChildLinks::kFrontend), pair.second.fd()));
    return child;
  };
  Verdict verdict = Supervise(*frontend, *broker, signal_fd->get(), kStopGrace, restarts);
  if (verdict.exit_code == 0) {
    VFSD_LOG(kInfo, "%s", verdict.message);
  } else {
    VFSD_LOG(kError, "%s", verdict.message);
  }
  return verdict.exit_code;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<Command> command = ParseCommandLine(args);
  if (!command.ok()) {
    fprintf(stderr, "virtiofsd: error: %s\nFor more information, try '--help'.\n",
            std::string(command.status().message()).c_str());
    return 2;
  }
  switch (command->action) {
    case Command::Action::kHelp:
      fputs(HelpText().c_str(), stdout);
      return 0;
    case Command::Action::kVersion:
      fputs(VersionText().c_str(), stdout);
      return 0;
    case Command::Action::kPrintCapabilities:
      fputs(CapabilitiesJson().c_str(), stdout);
      return 0;
    case Command::Action::kRun:
      break;
  }
  InitLogging("virtiofsd", command->options.log_level);
  // With --syslog the launcher alone talks to syslog, for itself and its children.
  std::unique_ptr<SyslogWriter> syslog;
  if (command->options.syslog) {
    const char* path = getenv("VIRTIOFSD_SYSLOG_SOCKET");  // tests point it elsewhere
    syslog = std::make_unique<SyslogWriter>(path != nullptr ? path : kSyslogSocket);
    SetLogSink([writer = syslog.get(), pid = getpid()](LogLevel level, absl::string_view line) {
      writer->Write("virtiofsd", pid, level, line);
    });
  }
  for (const std::string& notice : command->notices) VFSD_LOG(kWarn, "%s", notice);
  return Run(std::move(command->options), syslog.get());
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) { return virtiofsd::Main(argc, argv); }
