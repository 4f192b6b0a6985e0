#include "launcher/child_configs.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "common/child_config.h"

namespace virtiofsd {

proto::BrokerConfig BrokerConfigFor(const Options& o) {
  proto::BrokerConfig config;
  config.set_channel_fd(kChildChannelFd);
  config.set_launcher_fd(kChildLauncherFd);
  config.set_shared_dir(o.shared_dir);
  config.set_sandbox(std::string(NameOf(o.sandbox)));
  config.set_seccomp(std::string(NameOf(o.seccomp)));
  config.set_inode_file_handles(std::string(NameOf(o.inode_file_handles)));
  config.set_log_level(std::string(NameOf(o.log_level)));
  config.set_xattr(o.xattr);
  config.set_posix_acl(o.posix_acl);
  config.set_readonly(o.readonly);
  config.set_announce_submounts(o.announce_submounts);
  config.set_allow_direct_io(o.allow_direct_io);
  config.set_writeback(o.writeback);
  config.set_killpriv_v2(o.killpriv_v2);
  config.set_preserve_noatime(o.preserve_noatime);
  if (o.xattrmap.has_value()) config.set_xattrmap(*o.xattrmap);
  for (const std::string& rule : o.translate_uid) config.add_translate_uid(rule);
  for (const std::string& rule : o.translate_gid) config.add_translate_gid(rule);
  if (o.modcaps.has_value()) {
    for (absl::string_view item : absl::StrSplit(*o.modcaps, ':')) {
      config.add_modcaps(std::string(item));
    }
  }
  // One RLIMIT_NOFILE for both, so the frontend can take every fd the broker's
  // budget hands out. 0 ("leave the limit unchanged" in the Rust daemon) has no
  // equivalent; the parser says so in a notice.
  config.set_rlimit_nofile(o.rlimit_nofile.value_or(0));
  return config;
}

proto::FrontendConfig FrontendConfigFor(const Options& o, const FrontendIdentity& identity) {
  proto::FrontendConfig config;
  config.set_channel_fd(kChildChannelFd);
  config.set_listen_fd(kFrontendListenFd);
  config.set_launcher_fd(kChildLauncherFd);
  if (o.tag.has_value()) config.set_tag(*o.tag);
  config.set_cache(std::string(NameOf(o.cache)));
  config.set_seccomp(std::string(NameOf(o.seccomp)));
  config.set_log_level(std::string(NameOf(o.log_level)));
  // Saturated, not wrapped: the frontend refuses what it cannot run.
  config.set_thread_pool_size(
      static_cast<uint32_t>(std::min<size_t>(o.thread_pool_size, UINT32_MAX)));
  config.set_request_queues(o.request_queues);
  // As in the Rust daemon, --cache=never turns READDIRPLUS off: its entries would
  // be cached for no time at all.
  config.set_no_readdirplus(o.no_readdirplus || o.cache == CachePolicy::kNever);
  config.set_allow_mmap(o.allow_mmap);
  config.set_writeback(o.writeback);
  config.set_announce_submounts(o.announce_submounts);
  config.set_killpriv_v2(o.killpriv_v2);
  config.set_posix_acl(o.posix_acl);
  config.set_rlimit_nofile(o.rlimit_nofile.value_or(0));
  config.set_sandbox_uid(identity.uid);
  config.set_sandbox_gid(identity.gid);
  config.set_unique_ids(identity.unique);
  return config;
}

}  // namespace virtiofsd
