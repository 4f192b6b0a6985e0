#include "launcher/options.h"

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "broker/id_translation.h"
#include "broker/xattr_map.h"
#include "common/status.h"
#include "launcher/compat_options.h"
#include "launcher/id_map.h"
#include "launcher/option_values.h"

namespace virtiofsd {
namespace {

using Action = Command::Action;

// What the parse has seen besides Options: the deprecated forms are resolved
// only after the whole line is read, as the Rust daemon does.
struct ParseState {
  Command command;
  std::optional<std::string> socket;  // deprecated --socket
  std::vector<std::string> compat_options;
  bool compat_debug = false;
  bool compat_foreground = false;
  bool fallback_alias = false;
  bool migration_option = false;
  bool help = false;
  bool version = false;
  bool print_capabilities = false;
  // Options that narrow or change access which this virtiofsd does not implement:
  // accepting them silently would break the admin's expectation, so they are refused.
  std::vector<std::string> refused;
  bool security_label = false;  // --security-label, -o [no_]security_label

  Options& options() { return command.options; }
};

constexpr std::pair<absl::string_view, LogLevel> kLogLevelNames[] = {
    {"error", LogLevel::kError}, {"warn", LogLevel::kWarn},   {"info", LogLevel::kInfo},
    {"debug", LogLevel::kDebug}, {"trace", LogLevel::kTrace}, {"off", LogLevel::kOff},
};
constexpr std::pair<absl::string_view, MigrationMode> kMigrationModeNames[] = {
    {"find-paths", MigrationMode::kFindPaths},
    {"file-handles", MigrationMode::kFileHandles},
};
constexpr std::pair<absl::string_view, MigrationOnError> kMigrationOnErrorNames[] = {
    {"abort", MigrationOnError::kAbort},
    {"guest-error", MigrationOnError::kGuestError},
};

struct OptionSpec {
  absl::string_view name;  // "--cache", "-o"
  bool takes_value;
  std::function<absl::Status(ParseState&, absl::string_view)> apply;
};

// A flag that sets one bool of Options.
OptionSpec Flag(absl::string_view name, bool Options::*member, bool value = true) {
  return {name, false, [member, value](ParseState& state, absl::string_view) {
            state.options().*member = value;
            return absl::OkStatus();
          }};
}

const std::vector<OptionSpec>& Specs() {
  static const std::vector<OptionSpec>* const specs = new std::vector<OptionSpec>{
      {"--shared-dir", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(NonEmpty("--shared-dir", v));
         s.options().shared_dir = std::string(v);
         return absl::OkStatus();
       }},
      {"--tag", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(CheckTag(v));
         s.options().tag = std::string(v);
         return absl::OkStatus();
       }},
      {"--socket", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(CheckSocketPath("--socket", v));
         s.socket = std::string(v);
         return absl::OkStatus();
       }},
      {"--socket-path", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(CheckSocketPath("--socket-path", v));
         s.options().socket_path = std::string(v);
         return absl::OkStatus();
       }},
      {"--socket-group", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(NonEmpty("--socket-group", v));
         s.options().socket_group = std::string(v);
         return absl::OkStatus();
       }},
      {"--fd", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(int fd, ParseNumber<int>("--fd", v));
         s.options().listen_fd = fd;
         return absl::OkStatus();
       }},
      {"--thread-pool-size", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(s.options().thread_pool_size,
                               ParseNumber<size_t>("--thread-pool-size", v));
         return absl::OkStatus();
       }},
      // Not a Rust virtiofsd option: named after QEMU's vhost-user-fs-pci property.
      {"--num-request-queues", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(s.options().request_queues, ParseRequestQueues(v));
         return absl::OkStatus();
       }},
      Flag("--xattr", &Options::xattr),
      Flag("--posix-acl", &Options::posix_acl),
      {"--xattrmap", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(NonEmpty("--xattrmap", v));
         s.options().xattrmap = std::string(v);
         return absl::OkStatus();
       }},
      {"--sandbox", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(s.options().sandbox, ParseEnum("--sandbox", v, kSandboxModeNames));
         return absl::OkStatus();
       }},
      Flag("--readonly", &Options::readonly),
      {"--seccomp", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(s.options().seccomp, ParseEnum("--seccomp", v, kSeccompActionNames));
         return absl::OkStatus();
       }},
      Flag("--announce-submounts", &Options::announce_submounts),
      Flag("--no-announce-submounts", &Options::announce_submounts, false),
      {"--inode-file-handles", true,
       [](ParseState& s, absl::string_view v) {
         // "fallback" is the Rust daemon's deprecated alias of "prefer".
         if (v == "fallback") {
           s.fallback_alias = true;
           v = "prefer";
         }
         VFSD_ASSIGN_OR_RETURN(s.options().inode_file_handles,
                               ParseEnum("--inode-file-handles", v, kFileHandleModeNames));
         return absl::OkStatus();
       }},
      {"--cache", true,
       [](ParseState& s, absl::string_view v) {
         // libvirt passes its <cache mode='none'/> through unchanged: "none" is
         // "never", as in the legacy -o cache=none.
         if (v == "none") v = "never";
         VFSD_ASSIGN_OR_RETURN(s.options().cache, ParseEnum("--cache", v, kCachePolicyNames));
         return absl::OkStatus();
       }},
      Flag("--allow-mmap", &Options::allow_mmap),
      Flag("--no-readdirplus", &Options::no_readdirplus),
      Flag("--writeback", &Options::writeback),
      Flag("--allow-direct-io", &Options::allow_direct_io),
      {"--print-capabilities", false,
       [](ParseState& s, absl::string_view) {
         s.print_capabilities = true;
         return absl::OkStatus();
       }},
      {"--modcaps", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_RETURN_IF_ERROR(CheckModcaps("--modcaps", v));
         s.options().modcaps = std::string(v);
         return absl::OkStatus();
       }},
      {"--log-level", true,
       [](ParseState& s, absl::string_view v) {
         // The Rust daemon's LevelFilter parse ignores case ("DEBUG", "Info").
         VFSD_ASSIGN_OR_RETURN(
             s.options().log_level,
             ParseEnum("--log-level", absl::AsciiStrToLower(v), kLogLevelNames));
         return absl::OkStatus();
       }},
      Flag("--syslog", &Options::syslog),
      {"--rlimit-nofile", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(uint64_t limit, ParseNumber<uint64_t>("--rlimit-nofile", v));
         s.options().rlimit_nofile = limit;
         return absl::OkStatus();
       }},
      {"--frontend-id-base", true,
       [](ParseState& s, absl::string_view v) {
         VFSD_ASSIGN_OR_RETURN(uint32_t base, ParseNumber<uint32_t>("--frontend-id-base", v));
         // base + the largest pid must stay a valid id (below 2^32 - 1).
         if (base > 0xfffffffeu - kMaxPid) {
           return BadValue("--frontend-id-base", v, "leaves no room for base + pid");
         }
         s.options().frontend_id_base = base;
         return absl::OkStatus();
       }},
      {"-o", true,
       [](ParseState& s, absl::string_view v) {
         s.compat_options.emplace_back(v);
         return absl::OkStatus();
       }},
      {"-d", false,
       [](ParseState& s, absl::string_view) {
         s.compat_debug = true;
         return absl::OkStatus();
       }},
      {"-f", false,
       [](ParseState& s, absl::string_view) {
         s.compat_foreground = true;
         return absl::OkStatus();
       }},
      Flag("--no-killpriv-v2", &Options::killpriv_v2, false),
      Flag("--killpriv-v2", &Options::killpriv_v2),
      {"--security-label", false,
       [](ParseState& s, absl::string_view) {
         s.security_label = true;
         return absl::OkStatus();
       }},
      // The user-namespace options are parsed (a malformed rule is named as such),
      // then refused by Finish().
      {"--uid-map", true,
       [](ParseState& s, absl::string_view v) {
         auto map = ParseNamespaceIdMap(v);
         if (!map.ok()) return BadValue("--uid-map", v, map.status().message());
         s.refused.push_back("--uid-map");
         return absl::OkStatus();
       }},
      {"--gid-map", true,
       [](ParseState& s, absl::string_view v) {
         auto map = ParseNamespaceIdMap(v);
         if (!map.ok()) return BadValue("--gid-map", v, map.status().message());
         s.refused.push_back("--gid-map");
         return absl::OkStatus();
       }},
      {"--translate-uid", true,
       [](ParseState& s, absl::string_view v) {
         auto map = ParseTranslateIdMap(v);
         if (!map.ok()) return BadValue("--translate-uid", v, map.status().message());
         s.options().translate_uid.emplace_back(v);
         return absl::OkStatus();
       }},
      {"--translate-gid", true,
       [](ParseState& s, absl::string_view v) {
         auto map = ParseTranslateIdMap(v);
         if (!map.ok()) return BadValue("--translate-gid", v, map.status().message());
         s.options().translate_gid.emplace_back(v);
         return absl::OkStatus();
       }},
      Flag("--preserve-noatime", &Options::preserve_noatime),
      {"--migration-mode", true,
       [](ParseState& s, absl::string_view v) {
         s.migration_option = true;
         VFSD_ASSIGN_OR_RETURN(s.options().migration_mode,
                               ParseEnum("--migration-mode", v, kMigrationModeNames));
         return absl::OkStatus();
       }},
      {"--migration-on-error", true,
       [](ParseState& s, absl::string_view v) {
         s.migration_option = true;
         VFSD_ASSIGN_OR_RETURN(s.options().migration_on_error,
                               ParseEnum("--migration-on-error", v, kMigrationOnErrorNames));
         return absl::OkStatus();
       }},
      {"--migration-verify-handles", false,
       [](ParseState& s, absl::string_view) {
         s.migration_option = true;
         s.options().migration_verify_handles = true;
         return absl::OkStatus();
       }},
      {"--migration-confirm-paths", false,
       [](ParseState& s, absl::string_view) {
         s.migration_option = true;
         s.options().migration_confirm_paths = true;
         return absl::OkStatus();
       }},
      {"--help", false,
       [](ParseState& s, absl::string_view) {
         s.help = true;
         return absl::OkStatus();
       }},
      {"-h", false,
       [](ParseState& s, absl::string_view) {
         s.help = true;
         return absl::OkStatus();
       }},
      {"--version", false,
       [](ParseState& s, absl::string_view) {
         s.version = true;
         return absl::OkStatus();
       }},
      {"-V", false,
       [](ParseState& s, absl::string_view) {
         s.version = true;
         return absl::OkStatus();
       }},
  };
  return *specs;
}

const OptionSpec* FindSpec(absl::string_view name) {
  for (const OptionSpec& spec : Specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Reads argv into `state`; syntax and value errors only.
absl::Status ReadArguments(absl::Span<const std::string> args, ParseState& state) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    absl::string_view name = arg;
    std::optional<absl::string_view> value;
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      }
    } else if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      // A short option with its value attached ("-osource=/x") or a cluster ("-df").
      name = arg.substr(0, 2);
      const OptionSpec* spec = FindSpec(name);
      if (spec == nullptr) return UnknownOption(name);
      if (spec->takes_value) {
        value = arg.substr(2);
      } else {
        for (char c : arg.substr(1)) {
          const OptionSpec* flag = FindSpec(absl::StrCat("-", std::string(1, c)));
          if (flag == nullptr || flag->takes_value) {
            return UnknownOption(absl::StrCat("-", std::string(1, c)));
          }
          VFSD_RETURN_IF_ERROR(flag->apply(state, ""));
        }
        continue;
      }
    } else if (arg.empty() || arg[0] != '-' || arg == "-" || arg == "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    const OptionSpec* spec = FindSpec(name);
    if (spec == nullptr) return UnknownOption(name);
    if (!spec->takes_value && value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("option '", name, "' takes no value"));
    }
    if (spec->takes_value && !value.has_value()) {
      // Like clap, a following word that looks like an option is not a value.
      if (i + 1 >= args.size() || (args[i + 1].size() > 1 && args[i + 1][0] == '-')) {
        return absl::InvalidArgumentError(absl::StrCat("option '", name, "' needs a value"));
      }
      value = args[++i];
    }
    VFSD_RETURN_IF_ERROR(spec->apply(state, value.value_or("")));
  }
  return absl::OkStatus();
}

// Resolves deprecated forms and implications, and checks what only the whole
// line can tell (required options, conflicts).
absl::Status Finish(ParseState& state) {
  Options& o = state.options();
  std::vector<std::string>& notices = state.command.notices;
  for (const std::string& line : state.compat_options) {
    for (absl::string_view item : absl::StrSplit(line, ',')) {
      VFSD_RETURN_IF_ERROR(ApplyCompatOption(item, o, state.security_label));
    }
  }
  if (state.compat_debug) o.log_level = LogLevel::kDebug;
  if (o.posix_acl || o.xattrmap.has_value()) o.xattr = true;
  if (o.xattrmap.has_value()) {
    // The broker's own parser: a rule it would refuse is refused here, before any
    // process starts.
    if (absl::StatusOr<XattrMap> map = XattrMap::Parse(*o.xattrmap); !map.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("'--xattrmap': ", map.status().message()));
    }
  }

  for (const auto& [rules, option] : {std::pair(&o.translate_uid, "--translate-uid"),
                                      std::pair(&o.translate_gid, "--translate-gid")}) {
    // The broker's own table: rules it would refuse (overlapping ranges) are
    // refused here, before any process starts.
    if (absl::StatusOr<IdTranslation> table = IdTranslation::Parse(*rules); !table.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("'", option, "': ", table.status().message()));
    }
  }

  if (state.help) {
    state.command.action = Action::kHelp;
    return absl::OkStatus();
  }
  if (state.version) {
    state.command.action = Action::kVersion;
    return absl::OkStatus();
  }
  if (state.print_capabilities) {
    state.command.action = Action::kPrintCapabilities;
    return absl::OkStatus();
  }

  if (state.security_label) {
    return absl::InvalidArgumentError(
        "'--security-label' is not supported: the protocol between this virtiofsd's "
        "processes carries no security context (FUSE_SECURITY_CTX), so new files would not get "
        "the guest's label; remove the option");
  }
  if (!state.refused.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", state.refused.front(),
        "' is not supported: this virtiofsd does not create a user namespace itself; start "
        "it inside one (podman unshare, lxc-usernsexec) and remove the option"));
  }
  if (o.shared_dir.empty()) {
    return absl::InvalidArgumentError("missing '--shared-dir' (or '-o source=DIR')");
  }
  if (o.listen_fd.has_value()) {
    if (!o.socket_path.empty() || state.socket.has_value()) {
      return absl::InvalidArgumentError("'--fd' cannot be used with '--socket-path' or '--socket'");
    }
    if (o.socket_group.has_value()) {
      return absl::InvalidArgumentError("'--socket-group' cannot be used with '--fd'");
    }
  } else if (o.socket_path.empty()) {
    if (!state.socket.has_value()) {
      return absl::InvalidArgumentError("missing '--socket-path' (or '--fd')");
    }
    o.socket_path = *state.socket;
    notices.push_back(
        "use of deprecated parameter '--socket': please use the '--socket-path' option instead");
  }
  if (o.migration_mode == MigrationMode::kFileHandles) {
    if (o.migration_confirm_paths) {
      return absl::InvalidArgumentError(
          "'--migration-confirm-paths' cannot be used with '--migration-mode=file-handles'");
    }
    if (o.migration_verify_handles) {
      return absl::InvalidArgumentError(
          "'--migration-verify-handles' cannot be used with '--migration-mode=file-handles'");
    }
  }

  if (state.compat_foreground) {
    notices.push_back("use of deprecated flag '-f': this flag has no effect, please remove it");
  }
  if (state.compat_debug) {
    notices.push_back(
        "use of deprecated flag '-d': please use the '--log-level debug' option instead");
  }
  if (!state.compat_options.empty()) {
    notices.push_back(
        "use of deprecated option format '-o': please specify options without it (e.g., "
        "'--cache auto' instead of '-o cache=auto')");
  }
  if (state.fallback_alias) {
    notices.push_back(
        "use of deprecated value 'fallback' for '--inode-file-handles': please use 'prefer' "
        "instead");
  }
  if (o.rlimit_nofile == 0u) {
    notices.push_back(
        "'--rlimit-nofile=0' (leave the limit unchanged) is accepted but not honoured: the "
        "launcher sets both processes' RLIMIT_NOFILE to the default, capped below fs.file-max");
  }
  if (state.migration_option) {
    notices.push_back(
        "'--migration-*' options are accepted but not honoured: this virtiofsd does not support "
        "migration");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Command> ParseCommandLine(absl::Span<const std::string> args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        "no options given: '--shared-dir' and '--socket-path' (or '--fd') are needed");
  }
  ParseState state;
  VFSD_RETURN_IF_ERROR(ReadArguments(args, state));
  VFSD_RETURN_IF_ERROR(Finish(state));
  return std::move(state.command);
}

}  // namespace virtiofsd
