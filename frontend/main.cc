// virtiofsd-frontend: the unprivileged half of virtiofsd. Started by the
// `virtiofsd` launcher with the broker channel, the vhost-user socket and its
// FrontendConfig on fd 6 (common/child_config.h); it takes no arguments. Exits 0
// when QEMU disconnects, 1 if the broker had gone by then and no new one took its
// place (every request since was answered EIO), 2 for a bad configuration. A new
// broker's channel, handed over on the launcher link while the broker channel is
// down, replaces the old one (frontend/broker_link.h).

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/channel/broker_client.h"
#include "common/child_config.h"
#include "common/launcher_link.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/stop_signal_exit.h"
#include "frontend/broker_link.h"
#include "frontend/confinement.h"
#include "frontend/frontend_options.h"
#include "frontend/fuse_session.h"
#include "frontend/vhost_user_device.h"

namespace virtiofsd {
namespace {

// Takes an inherited fd and makes sure it does not leak into anything we exec.
UniqueFd Inherit(int fd) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return UniqueFd(fd);
}

// A new broker's channel from the launcher: serves through it if the current
// broker is gone and it answers the handshake.
void TakeNewChannel(BrokerLink& link, UniqueFd channel) {
  if (link.up()) {
    VFSD_LOG(kWarn, "a new broker channel while the broker serves: refused");
    return;
  }
  auto client = std::make_shared<BrokerClient>(FrameSocket(std::move(channel)));
  if (absl::Status status = Handshake(*client); !status.ok()) {
    VFSD_LOG(kError, "new broker: %s; the guest keeps getting EIO", status.ToString());
    return;
  }
  if (absl::Status status = link.Replace(std::move(client)); !status.ok()) {
    VFSD_LOG(kWarn, "%s", status.message());
    return;
  }
  VFSD_LOG(kInfo, "serving through a new broker; nodes and handles are found again on first use");
}

int Run(const FrontendOptions& options) {
  UniqueFd channel = Inherit(options.channel_fd);
  UniqueFd listener = Inherit(options.listen_fd);
  std::optional<SeccompFilter> filter;
  if (options.sandbox) {
    absl::StatusOr<SeccompFilter> confined = ConfineFrontend(options);
    if (!confined.ok()) {
      VFSD_LOG(kError, "cannot confine the frontend: %s", confined.status().ToString());
      return 1;
    }
    filter = *std::move(confined);
  }
  const int channel_fd = channel.get();
  auto first_client = std::make_shared<BrokerClient>(FrameSocket(std::move(channel)));
  BrokerLink broker(first_client);
  // Dies with the launcher, and, until a VMM connects, at once when the broker
  // goes. Destroyed before `broker`, whose own shutdown must not count.
  std::optional<OrphanWatch> orphan_watch;
  if (options.launcher_fd >= 0) orphan_watch.emplace(options.launcher_fd, channel_fd);
  if (absl::Status status = Handshake(*first_client); !status.ok()) {
    VFSD_LOG(kError, "%s", status.ToString());
    return 1;
  }
  VFSD_LOG(kInfo, "waiting for the vhost-user front-end");
  UniqueFd connection;
  do {
    connection.Reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  } while (!connection.valid() && errno == EINTR);
  if (!connection.valid()) {
    VFSD_LOG(kError, "accept: %s", strerror(errno));
    return 1;
  }
  listener.Reset();  // One front-end per daemon, as with the Rust virtiofsd.
  // A guest now depends on us: if the broker goes, keep serving, every request
  // failing with EIO until the launcher hands over a new broker's channel (or for
  // good), so the guest can unmount and shut down; QEMU cannot reconnect a
  // vhost-user-fs backend. Only the launcher's end still ends us.
  // A broker the launcher starts in place of a dead one comes as a new channel on
  // the launcher link, the only way one can come.
  first_client.reset();
  if (orphan_watch.has_value()) {
    orphan_watch.emplace(options.launcher_fd, -1, [&broker](UniqueFd channel) {
      TakeNewChannel(broker, std::move(channel));
    });
  }
  // Nothing from the front-end has been read yet; from here on no accept is allowed.
  if (filter.has_value()) {
    if (absl::Status installed = filter->Install(); !installed.ok()) {
      VFSD_LOG(kError, "cannot confine the frontend: %s", installed.ToString());
      return 1;
    }
  }
  VFSD_LOG(kInfo, "front-end connected");
  std::unique_ptr<WorkerPool> pool;
  if (options.thread_pool_size > 0) pool = std::make_unique<WorkerPool>(options.thread_pool_size);
  FuseSession session(broker, options.fuse, pool.get());
  VhostUserDevice device(std::move(connection), {options.request_queues, options.tag}, session);
  absl::Status served = device.Serve();
  if (!served.ok()) {
    VFSD_LOG(kError, "vhost-user connection failed: %s", served.ToString());
    return 1;
  }
  if (!broker.up()) {
    VFSD_LOG(kError, "front-end disconnected; exiting with status 1: the broker had gone");
    return 1;
  }
  VFSD_LOG(kInfo, "front-end disconnected; exiting");
  return 0;
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) {
  if (argc > 1) {
    fprintf(stderr,
            "virtiofsd-frontend: takes no arguments; virtiofsd starts it with its "
            "configuration on fd %d\n",
            virtiofsd::kChildConfigFd);
    return 2;
  }
  virtiofsd::proto::FrontendConfig config;
  const absl::Status read = virtiofsd::ReadConfig(virtiofsd::kChildConfigFd, config);
  absl::StatusOr<virtiofsd::FrontendOptions> options =
      read.ok() ? virtiofsd::FrontendOptionsFromConfig(config)
                : absl::StatusOr<virtiofsd::FrontendOptions>(read);
  if (!options.ok()) {
    fprintf(stderr, "virtiofsd-frontend: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  virtiofsd::InitLogging("virtiofsd-frontend", options->log_level);
  // Debian's abseil keeps its debug checks: without this, every Mutex::Lock()
  // updates a lock graph for deadlock detection (a few per cent of the CPU under
  // load). Tests keep the checks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  virtiofsd::ExitOnStopSignals();
  if (options->launcher_fd >= 0) {
    // The launcher link stays open for the process's life (launcher_link.h).
    fcntl(options->launcher_fd, F_SETFD, FD_CLOEXEC);
    virtiofsd::LogToLauncher(options->launcher_fd);
  }
  if (options->fuse.allow_mmap && options->fuse.cache == virtiofsd::CachePolicy::kNever) {
    // FUSE_DIRECT_IO_ALLOW_MMAP is newer than the FUSE protocol (7.38) we build against.
    VFSD_LOG(kWarn,
             "--allow-mmap is accepted but not honoured: with --cache=never the "
             "guest cannot mmap files");
  }
  return virtiofsd::Run(*options);
}
