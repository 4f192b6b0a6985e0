#include "launcher/child_args.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace virtiofsd {
namespace {

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kOff:
      return "off";
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kTrace:
      return "trace";
  }
  return "info";
}

void AddFlag(std::vector<std::string>& args, bool on, absl::string_view flag) {
  if (on) args.emplace_back(flag);
}

// Options both children honour, in the same spelling.
void AddCommon(const Options& o, std::vector<std::string>& args) {
  // One RLIMIT_NOFILE for both, so the frontend can take every fd the broker's
  // budget hands out. 0 ("leave the limit unchanged" in the Rust daemon) has no
  // equivalent; the parser says so in a notice.
  if (o.rlimit_nofile.value_or(0) > 0) {
    args.push_back(absl::StrCat("--rlimit-nofile=", *o.rlimit_nofile));
  }
  AddFlag(args, o.xattr, "--xattr");
  AddFlag(args, o.posix_acl, "--posix-acl");
  AddFlag(args, o.announce_submounts, "--announce-submounts");
  AddFlag(args, o.allow_direct_io, "--allow-direct-io");
  AddFlag(args, o.writeback, "--writeback");
  AddFlag(args, o.killpriv_v2, "--killpriv-v2");
  args.push_back(absl::StrCat("--seccomp=", NameOf(o.seccomp)));
  args.push_back(absl::StrCat("--log-level=", LogLevelName(o.log_level)));
  args.push_back(absl::StrCat("--launcher-fd=", kChildLauncherFd));
}

}  // namespace

std::vector<std::string> BrokerArguments(const Options& o) {
  std::vector<std::string> args = {
      absl::StrCat("--channel-fd=", kChildChannelFd),
      absl::StrCat("--shared-dir=", o.shared_dir),
      absl::StrCat("--sandbox=", NameOf(o.sandbox)),
      absl::StrCat("--inode-file-handles=", NameOf(o.inode_file_handles)),
  };
  AddFlag(args, o.readonly, "--readonly");
  AddFlag(args, o.preserve_noatime, "--preserve-noatime");
  if (o.xattrmap.has_value()) args.push_back(absl::StrCat("--xattrmap=", *o.xattrmap));
  for (const std::string& rule : o.translate_uid) args.push_back("--translate-uid=" + rule);
  for (const std::string& rule : o.translate_gid) args.push_back("--translate-gid=" + rule);
  // One item per flag: the broker accumulates them, whatever separator it takes.
  if (o.modcaps.has_value()) {
    for (absl::string_view item : absl::StrSplit(*o.modcaps, ':')) {
      args.push_back(absl::StrCat("--modcaps=", item));
    }
  }
  AddCommon(o, args);
  return args;
}

std::vector<std::string> FrontendArguments(const Options& o) {
  std::vector<std::string> args = {
      absl::StrCat("--channel-fd=", kChildChannelFd),
      absl::StrCat("--fd=", kFrontendListenFd),
      absl::StrCat("--cache=", NameOf(o.cache)),
      absl::StrCat("--thread-pool-size=", o.thread_pool_size),
  };
  if (o.tag.has_value()) args.push_back(absl::StrCat("--tag=", *o.tag));
  // As in the Rust daemon, --cache=never turns READDIRPLUS off: its entries would
  // be cached for no time at all.
  AddFlag(args, o.no_readdirplus || o.cache == CachePolicy::kNever, "--no-readdirplus");
  AddFlag(args, o.allow_mmap, "--allow-mmap");
  AddCommon(o, args);
  return args;
}

}  // namespace virtiofsd
