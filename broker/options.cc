#include "broker/options.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/child_config.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

constexpr absl::string_view kType = "BrokerConfig";

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return ConfigFieldError(kType, field, why);
}

}  // namespace

absl::StatusOr<BrokerOptions> BrokerOptionsFromConfig(const proto::BrokerConfig& config) {
  BrokerOptions o;
  if (!config.has_channel_fd()) return Bad("channel_fd", "missing");
  VFSD_RETURN_IF_ERROR(CheckConfigFd(kType, "channel_fd", config.channel_fd(), o.channel_fd));
  if (config.shared_dir().empty() || config.shared_dir()[0] != '/') {
    return Bad("shared_dir", absl::StrCat("'", config.shared_dir(), "' is not an absolute path"));
  }
  o.shared_dir = config.shared_dir();
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "sandbox", config.sandbox(), ParseSandboxMode, o.sandbox));
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "seccomp", config.seccomp(), ParseSeccompAction, o.seccomp));
  VFSD_RETURN_IF_ERROR(ParseConfigName(kType, "inode_file_handles", config.inode_file_handles(),
                                       ParseFileHandleMode, o.inode_file_handles));
  VFSD_RETURN_IF_ERROR(
      ParseConfigName(kType, "log_level", config.log_level(), ParseLogLevel, o.log_level));
  o.posix_acl = config.posix_acl();
  o.xattr = config.xattr() || o.posix_acl;
  o.readonly = config.readonly();
  o.announce_submounts = config.announce_submounts();
  o.allow_direct_io = config.allow_direct_io();
  o.writeback = config.writeback();
  o.killpriv_v2 = config.killpriv_v2();
  o.preserve_noatime = config.preserve_noatime();
  o.xattrmap = config.xattrmap();
  if (!o.xattrmap.empty() && !o.xattr) return Bad("xattrmap", "needs xattr");
  // The rules themselves are checked where they are parsed (main.cc), with the
  // same parsers the launcher uses.
  o.translate_uid.assign(config.translate_uid().begin(), config.translate_uid().end());
  o.translate_gid.assign(config.translate_gid().begin(), config.translate_gid().end());
  for (const std::string& item : config.modcaps()) {
    if (item.size() < 2 || (item[0] != '+' && item[0] != '-')) {
      return Bad("modcaps", absl::StrCat("'", item, "' is not +capability or -capability"));
    }
    o.modcaps.push_back(absl::AsciiStrToLower(item));
  }
  if (config.rlimit_nofile() > (uint64_t{1} << 40)) {
    return Bad("rlimit_nofile", absl::StrCat(config.rlimit_nofile(), " is above 2^40"));
  }
  o.rlimit_nofile = config.rlimit_nofile();
  if (config.threads() > 256) return Bad("threads", absl::StrCat(config.threads(), " > 256"));
  if (config.threads() != 0) o.threads = static_cast<int>(config.threads());
  if (config.has_launcher_fd()) {
    VFSD_RETURN_IF_ERROR(CheckConfigFd(kType, "launcher_fd", config.launcher_fd(), o.launcher_fd));
  }
  return o;
}

}  // namespace virtiofsd
