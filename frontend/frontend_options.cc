#include "frontend/frontend_options.h"

#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace virtiofsd {
namespace {

absl::Status Bad(absl::string_view option, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("option ", option, ": ", why));
}

template <typename T>
absl::Status Number(absl::string_view option, absl::string_view value, T min, T max, T& out) {
  long long parsed;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < static_cast<long long>(min) ||
      parsed > static_cast<long long>(max)) {
    return Bad(option, absl::StrCat("'", value, "' is not a number in ", min, "..", max));
  }
  out = static_cast<T>(parsed);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FrontendOptions> ParseFrontendOptions(const std::vector<std::string>& args) {
  FrontendOptions o;
  using Setter = std::function<absl::Status(absl::string_view)>;
  // Options that take a value.
  const std::map<std::string, Setter, std::less<>> valued = {
      {"--channel-fd", [&](auto v) { return Number("--channel-fd", v, 0, 1 << 20, o.channel_fd); }},
      {"--fd", [&](auto v) { return Number("--fd", v, 0, 1 << 20, o.listen_fd); }},
      {"--launcher-fd",
       [&](auto v) { return Number("--launcher-fd", v, 0, 1 << 20, o.launcher_fd); }},
      {"--socket-path",
       [&](auto v) {
         o.socket_path = std::string(v);
         return v.empty() ? Bad("--socket-path", "empty") : absl::OkStatus();
       }},
      {"--tag",
       [&](auto v) {
         o.tag = std::string(v);
         return v.empty() || v.size() > 36 ? Bad("--tag", "must be 1..36 bytes") : absl::OkStatus();
       }},
      {"--cache",
       [&](auto v) {
         auto policy = ParseCachePolicy(v);
         if (!policy) return Bad("--cache", "expected auto, always, never or metadata");
         o.fuse.cache = *policy;
         return absl::OkStatus();
       }},
      {"--thread-pool-size",
       [&](auto v) { return Number("--thread-pool-size", v, 0, 1024, o.thread_pool_size); }},
      {"--request-queues",
       [&](auto v) { return Number("--request-queues", v, 1, 64, o.request_queues); }},
      {"--seccomp",
       [&](auto v) {
         auto action = ParseSeccompAction(v);
         if (!action) return Bad("--seccomp", "expected kill, log, trap or none");
         o.seccomp = *action;
         return absl::OkStatus();
       }},
      {"--sandbox-uid",
       [&](auto v) { return Number("--sandbox-uid", v, 0u, 0xfffffffeu, o.sandbox_uid); }},
      {"--sandbox-gid",
       [&](auto v) { return Number("--sandbox-gid", v, 0u, 0xfffffffeu, o.sandbox_gid); }},
      {"--rlimit-nofile",
       [&](auto v) {
         return Number("--rlimit-nofile", v, uint64_t{1}, uint64_t{1} << 40, o.rlimit_nofile);
       }},
      {"--log-level",
       [&](auto v) {
         auto level = ParseLogLevel(v);
         if (!level) return Bad("--log-level", "expected error, warn, info, debug, trace or off");
         o.log_level = *level;
         return absl::OkStatus();
       }},
  };
  // --xattr and --allow-direct-io come with the launcher's shared flags; the broker
  // honours them and the frontend has nothing to do for them.
  bool broker_only = false;
  const std::map<std::string, bool*, std::less<>> switches = {
      {"--writeback", &o.fuse.writeback},
      {"--allow-direct-io", &broker_only},
      {"--announce-submounts", &o.fuse.announce_submounts},
      {"--killpriv-v2", &o.fuse.killpriv_v2},
      {"--posix-acl", &o.fuse.posix_acl},
      {"--xattr", &broker_only},
      {"--allow-mmap", &o.fuse.allow_mmap},
      {"--unique-ids", &o.unique_ids},
  };
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    const absl::string_view name = absl::string_view(arg).substr(0, eq);
    if (eq == std::string::npos) {
      if (auto it = switches.find(name); it != switches.end()) {
        *it->second = true;
      } else if (name == "--no-readdirplus") {
        o.fuse.readdirplus = false;
      } else if (name == "--no-sandbox") {
        o.sandbox = false;
      } else if (valued.count(name) != 0) {
        return Bad(name, "needs a value (--option=VALUE)");
      } else {
        return Bad(name, "unknown");
      }
      continue;
    }
    auto it = valued.find(name);
    if (it == valued.end()) return Bad(name, "unknown, or takes no value");
    if (auto status = it->second(absl::string_view(arg).substr(eq + 1)); !status.ok()) {
      return status;
    }
  }
  if (o.channel_fd < 0) return Bad("--channel-fd", "required");
  if ((o.listen_fd >= 0) == !o.socket_path.empty()) {
    return Bad("--fd/--socket-path", "give exactly one");
  }
  return o;
}

}  // namespace virtiofsd
