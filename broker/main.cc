// virtiofsd-broker: the confined process that performs the filesystem operations
// of a virtio-fs share for its frontend. Started by the launcher with an
// inherited SOCK_SEQPACKET channel and its BrokerConfig on fd 6
// (common/child_config.h); it takes no arguments.
// Exit status: 0 when the frontend closed the channel, 1 when it broke the
// protocol or start-up failed, 2 for a bad configuration.

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "broker/capabilities.h"
#include "broker/confinement.h"
#include "broker/filesystem.h"
#include "broker/id_translation.h"
#include "broker/nofile_limit.h"
#include "broker/options.h"
#include "broker/sandbox.h"
#include "broker/server.h"
#include "broker/xattr_map.h"
#include "common/channel/frame_socket.h"
#include "common/child_config.h"
#include "common/launcher_link.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/stop_signal_exit.h"
#include "proto/config.pb.h"

namespace virtiofsd {
namespace {

// Fds the broker needs besides nodes and handles: the channel, fds in flight,
// per-request temporaries, logging.
constexpr uint64_t kReservedFds = 128;

int Fail(const absl::Status& status) {
  VFSD_LOG(kError, "%s", status.ToString());
  return 1;
}

int Main(int argc, char** argv) {
  if (argc > 1) {
    fprintf(stderr,
            "virtiofsd-broker: takes no arguments; virtiofsd starts it with its configuration "
            "on fd %d\n",
            kChildConfigFd);
    return 2;
  }
  proto::BrokerConfig message;
  const absl::Status read = ReadConfig(kChildConfigFd, message);
  absl::StatusOr<BrokerOptions> parsed =
      read.ok() ? BrokerOptionsFromConfig(message) : absl::StatusOr<BrokerOptions>(read);
  if (!parsed.ok()) {
    fprintf(stderr, "virtiofsd-broker: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  bool prefer_fell_back = false;
  BrokerOptions& options = *parsed;
  // A file handle could name any inode of the share's filesystem: `prefer` takes
  // handles only where that stays beneath the share, `mandatory` insists (below).
  if (options.inode_file_handles == FileHandleMode::kPrefer && !CheckConfinable(options).ok()) {
    options.inode_file_handles = FileHandleMode::kNever;
    prefer_fell_back = true;
  }
  FsConfig config;
  if (!options.xattrmap.empty()) {
    absl::StatusOr<XattrMap> map = XattrMap::Parse(options.xattrmap);
    if (!map.ok()) {
      fprintf(stderr, "virtiofsd-broker: %s\n", std::string(map.status().message()).c_str());
      return 2;
    }
    config.xattrmap = *std::move(map);
  }
  for (auto [rules, table, option] :
       {std::tuple(&options.translate_uid, &config.uids, "--translate-uid"),
        std::tuple(&options.translate_gid, &config.gids, "--translate-gid")}) {
    absl::StatusOr<IdTranslation> parsed = IdTranslation::Parse(*rules);
    if (!parsed.ok()) {
      fprintf(stderr, "virtiofsd-broker: %s: %s\n", option,
              std::string(parsed.status().message()).c_str());
      return 2;
    }
    *table = *std::move(parsed);
  }
  const bool file_handles = options.inode_file_handles != FileHandleMode::kNever;
  absl::StatusOr<uint64_t> capabilities = BrokerCapabilities(options.modcaps, file_handles);
  if (!capabilities.ok()) {
    fprintf(stderr, "virtiofsd-broker: %s\n", std::string(capabilities.status().message()).c_str());
    return 2;
  }
  struct stat channel_stat;
  int socket_type = 0;
  socklen_t type_len = sizeof(socket_type);
  if (fstat(options.channel_fd, &channel_stat) < 0 || !S_ISSOCK(channel_stat.st_mode) ||
      getsockopt(options.channel_fd, SOL_SOCKET, SO_TYPE, &socket_type, &type_len) < 0 ||
      socket_type != SOCK_SEQPACKET) {
    fprintf(stderr, "virtiofsd-broker: channel fd %d is not a SOCK_SEQPACKET socket\n",
            options.channel_fd);
    return 2;
  }
  InitLogging("virtiofsd-broker", options.log_level);
  // Debian's abseil keeps its debug checks: without this, every Mutex::Lock()
  // updates a lock graph for deadlock detection (a few per cent of the CPU under
  // load). Tests keep the checks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ExitOnStopSignals();
  if (options.launcher_fd >= 0) {
    // The launcher link stays open for the process's life (launcher_link.h).
    fcntl(options.launcher_fd, F_SETFD, FD_CLOEXEC);
    LogToLauncher(options.launcher_fd);
  }
  FrameSocket channel{UniqueFd(options.channel_fd)};
  if (prefer_fell_back) {
    VFSD_LOG(kWarn,
             "--inode-file-handles=prefer: %s is not the root of its filesystem, where a file "
             "handle could reach beyond it; holding O_PATH fds instead",
             options.shared_dir);
  }

  absl::StatusOr<uint64_t> nofile = RaiseNofileLimit(options.rlimit_nofile);
  if (!nofile.ok()) return Fail(nofile.status());
  if (absl::Status status = CheckConfinable(options); !status.ok()) {
    fprintf(stderr, "virtiofsd-broker: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  absl::StatusOr<SandboxFds> fds = ConfineBroker(options, *capabilities);
  if (!fds.ok()) return Fail(fds.status());

  config.readonly = options.readonly;
  config.xattr = options.xattr;
  config.posix_acl = options.posix_acl;
  config.announce_submounts = options.announce_submounts;
  config.allow_direct_io = options.allow_direct_io;
  config.writeback = options.writeback;
  config.killpriv_v2 = options.killpriv_v2;
  config.preserve_noatime = options.preserve_noatime;
  config.inode_file_handles = options.inode_file_handles;
  config.fd_budget =
      static_cast<int64_t>(*nofile > 2 * kReservedFds ? *nofile - kReservedFds : *nofile / 2);
  absl::StatusOr<std::unique_ptr<FileSystem>> fs = FileSystem::Create(
      std::move(fds->shared_dir), std::move(fds->proc_self_fd), std::move(config));
  if (!fs.ok()) return Fail(fs.status());
  Server server(channel, **fs, options.threads);
  // Confined (ConfineBroker above): from here a thread may exist. Dies with the launcher.
  std::optional<OrphanWatch> orphan_watch;
  if (options.launcher_fd >= 0) orphan_watch.emplace(options.launcher_fd, -1);
  VFSD_LOG(kInfo, "serving %s", options.shared_dir);
  absl::Status served = server.Run();
  if (!served.ok()) return 1;
  VFSD_LOG(kInfo, "frontend closed the channel");
  return 0;
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) { return virtiofsd::Main(argc, argv); }
