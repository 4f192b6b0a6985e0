#include "broker/options.h"

#include <functional>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace virtiofsd {
namespace {

using Setter = std::function<absl::Status(BrokerOptions&, const std::string&)>;

absl::Status Bad(const std::string& option, const std::string& value, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("--", option, "=", value, ": ", why));
}

template <typename T>
Setter Choice(T BrokerOptions::*field, std::string option, std::map<std::string, T> choices) {
  return [=](BrokerOptions& o, const std::string& value) {
    auto it = choices.find(value);
    if (it == choices.end()) return Bad(option, value, "unknown value");
    o.*field = it->second;
    return absl::OkStatus();
  };
}

template <typename T>
Setter Number(T BrokerOptions::*field, std::string option, T min, T max) {
  return [=](BrokerOptions& o, const std::string& value) {
    T number;
    if (!absl::SimpleAtoi(value, &number) || number < min || number > max) {
      return Bad(option, value, absl::StrCat("expected a number in ", min, "..", max));
    }
    o.*field = number;
    return absl::OkStatus();
  };
}

const std::map<std::string, Setter>& ValueOptions() {
  static const auto* options = new std::map<std::string, Setter>{
      {"channel-fd", Number(&BrokerOptions::channel_fd, "channel-fd", 0, 1 << 30)},
      {"launcher-fd", Number(&BrokerOptions::launcher_fd, "launcher-fd", 0, 1 << 30)},
      {"shared-dir",
       [](BrokerOptions& o, const std::string& value) {
         if (value.empty() || value[0] != '/') {
           return Bad("shared-dir", value, "must be an absolute path");
         }
         o.shared_dir = value;
         return absl::OkStatus();
       }},
      {"sandbox", Choice(&BrokerOptions::sandbox, "sandbox",
                         {{"namespace", SandboxMode::kNamespace},
                          {"chroot", SandboxMode::kChroot},
                          {"none", SandboxMode::kNone}})},
      {"seccomp", Choice(&BrokerOptions::seccomp, "seccomp",
                         {{"kill", SeccompAction::kKill},
                          {"log", SeccompAction::kLog},
                          {"trap", SeccompAction::kTrap},
                          {"none", SeccompAction::kNone}})},
      {"inode-file-handles", Choice(&BrokerOptions::inode_file_handles, "inode-file-handles",
                                    {{"never", FileHandleMode::kNever},
                                     {"prefer", FileHandleMode::kPrefer},
                                     {"mandatory", FileHandleMode::kMandatory}})},
      {"xattrmap",
       [](BrokerOptions& o, const std::string& value) {
         if (value.empty()) return Bad("xattrmap", value, "empty rule list");
         o.xattrmap = value;
         return absl::OkStatus();
       }},
      // One rule each, repeated (broker/id_translation.h parses them).
      {"translate-uid",
       [](BrokerOptions& o, const std::string& value) {
         o.translate_uid.push_back(value);
         return absl::OkStatus();
       }},
      {"translate-gid",
       [](BrokerOptions& o, const std::string& value) {
         o.translate_gid.push_back(value);
         return absl::OkStatus();
       }},
      {"modcaps",
       [](BrokerOptions& o, const std::string& value) {
         for (absl::string_view item : absl::StrSplit(value, ',')) {
           if (item.size() < 2 || (item[0] != '+' && item[0] != '-')) {
             return Bad("modcaps", value, "expected +cap or -cap items separated by ','");
           }
           o.modcaps.push_back(absl::AsciiStrToLower(item));
         }
         return absl::OkStatus();
       }},
      {"rlimit-nofile",
       Number(&BrokerOptions::rlimit_nofile, "rlimit-nofile", uint64_t{1}, uint64_t{1} << 40)},
      {"threads", Number(&BrokerOptions::threads, "threads", 1, 256)},
      {"log-level",
       [](BrokerOptions& o, const std::string& value) {
         std::optional<LogLevel> level = ParseLogLevel(value);
         if (!level) return Bad("log-level", value, "unknown level");
         o.log_level = *level;
         return absl::OkStatus();
       }},
  };
  return *options;
}

const std::map<std::string, bool BrokerOptions::*>& FlagOptions() {
  static const auto* flags = new std::map<std::string, bool BrokerOptions::*>{
      {"xattr", &BrokerOptions::xattr},
      {"posix-acl", &BrokerOptions::posix_acl},
      {"readonly", &BrokerOptions::readonly},
      {"announce-submounts", &BrokerOptions::announce_submounts},
      {"allow-direct-io", &BrokerOptions::allow_direct_io},
      {"writeback", &BrokerOptions::writeback},
      {"killpriv-v2", &BrokerOptions::killpriv_v2},
      {"preserve-noatime", &BrokerOptions::preserve_noatime},
      {"security-label", &BrokerOptions::security_label},
  };
  return *flags;
}

}  // namespace

absl::StatusOr<BrokerOptions> ParseBrokerOptions(const std::vector<std::string>& args) {
  BrokerOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (auto flag = FlagOptions().find(name); flag != FlagOptions().end()) {
      if (eq != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      options.*(flag->second) = true;
      continue;
    }
    auto option = ValueOptions().find(name);
    if (option == ValueOptions().end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    if (absl::Status status = option->second(options, value); !status.ok()) return status;
  }
  if (options.channel_fd < 0) return absl::InvalidArgumentError("--channel-fd is required");
  if (options.shared_dir.empty()) return absl::InvalidArgumentError("--shared-dir is required");
  if (options.posix_acl) options.xattr = true;
  if (!options.xattrmap.empty() && !options.xattr) {
    return absl::InvalidArgumentError("--xattrmap needs --xattr");
  }
  return options;
}

std::string BrokerUsage() {
  return "usage: virtiofsd-broker --channel-fd=N --shared-dir=DIR\n"
         "  [--sandbox=namespace|chroot|none] [--seccomp=kill|log|trap|none]\n"
         "  [--xattr] [--posix-acl] [--readonly] [--inode-file-handles=never|prefer|mandatory]\n"
         "  [--announce-submounts] [--allow-direct-io] [--writeback] [--killpriv-v2]\n"
         "  [--preserve-noatime] [--security-label] [--xattrmap=RULES] [--modcaps=LIST]\n"
         "  [--translate-uid=RULE]... [--translate-gid=RULE]...\n"
         "  [--rlimit-nofile=N] [--threads=N] [--log-level=LEVEL]\n"
         "  [--launcher-fd=N]\n";
}

}  // namespace virtiofsd
