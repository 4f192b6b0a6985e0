#include "frontend/frontend_options.h"

#include "absl/strings/str_cat.h"
#include "common/child_config.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

constexpr absl::string_view kType = "FrontendConfig";

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return ConfigFieldError(kType, field, why);
}

absl::Status AtMost(absl::string_view field, uint64_t value, uint64_t max) {
  if (value > max) return Bad(field, absl::StrCat(value, " is above ", max));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FrontendOptions> FrontendOptionsFromConfig(const proto::FrontendConfig& config) {
  FrontendOptions o;
  if (!config.has_channel_fd()) return Bad("channel_fd", "missing");
  VFSD_RETURN_IF_ERROR(CheckConfigFd(kType, "channel_fd", config.channel_fd(), o.channel_fd));
  if (!config.has_listen_fd()) return Bad("listen_fd", "missing");
  VFSD_RETURN_IF_ERROR(CheckConfigFd(kType, "listen_fd", config.listen_fd(), o.listen_fd));
  if (config.has_launcher_fd()) {
    VFSD_RETURN_IF_ERROR(CheckConfigFd(kType, "launcher_fd", config.launcher_fd(), o.launcher_fd));
  }
  // The virtio-fs config space holds the tag in 36 bytes.
  VFSD_RETURN_IF_ERROR(AtMost("tag", config.tag().size(), 36));
  o.tag = config.tag();
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "cache", config.cache(), ParseCachePolicy, o.fuse.cache));
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "seccomp", config.seccomp(), ParseSeccompAction, o.seccomp));
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "log_level", config.log_level(), ParseLogLevel, o.log_level));
  o.fuse.writeback = config.writeback();
  o.fuse.readdirplus = !config.no_readdirplus();
  o.fuse.announce_submounts = config.announce_submounts();
  o.fuse.killpriv_v2 = config.killpriv_v2();
  o.fuse.posix_acl = config.posix_acl();
  o.fuse.allow_mmap = config.allow_mmap();
  VFSD_RETURN_IF_ERROR(AtMost("thread_pool_size", config.thread_pool_size(), 1024));
  o.thread_pool_size = static_cast<int>(config.thread_pool_size());
  VFSD_RETURN_IF_ERROR(AtMost("request_queues", config.request_queues(), 64));
  if (config.request_queues() != 0) o.request_queues = static_cast<int>(config.request_queues());
  // (uid_t)-1 means "unchanged" to setresuid: never an identity to run as.
  if (config.has_sandbox_uid()) {
    VFSD_RETURN_IF_ERROR(AtMost("sandbox_uid", config.sandbox_uid(), 0xfffffffeu));
    o.sandbox_uid = config.sandbox_uid();
  }
  if (config.has_sandbox_gid()) {
    VFSD_RETURN_IF_ERROR(AtMost("sandbox_gid", config.sandbox_gid(), 0xfffffffeu));
    o.sandbox_gid = config.sandbox_gid();
  }
  o.unique_ids = config.unique_ids();
  VFSD_RETURN_IF_ERROR(AtMost("rlimit_nofile", config.rlimit_nofile(), uint64_t{1} << 40));
  o.rlimit_nofile = config.rlimit_nofile();
  o.sandbox = !config.no_sandbox();
  return o;
}

}  // namespace virtiofsd
