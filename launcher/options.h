// The `virtiofsd` command line: the Rust virtiofsd's whole option set, parsed and
// validated into Options, with no side effects (no syscalls, no printing).
//
// Spellings follow the Rust daemon (clap): `--name=value` or `--name value`, flags
// take no value, a repeated option overrides the earlier one (list options such as
// --uid-map accumulate), and the deprecated `-o a,b=c`, `-d`, `-f` and `--socket`
// forms are accepted. Errors are kInvalidArgument whose message names the option;
// the command exits 2 on them.

#ifndef VIRTIOFSD_LAUNCHER_OPTIONS_H_
#define VIRTIOFSD_LAUNCHER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/logging.h"
#include "common/settings.h"
#include "launcher/frontend_identity.h"

namespace virtiofsd {

enum class MigrationMode { kFindPaths, kFileHandles };
enum class MigrationOnError { kAbort, kGuestError };

// Everything the command line says, after defaults, deprecated forms and implied
// options (--posix-acl and --xattrmap imply --xattr) are applied. Options this
// implementation cannot honour and that would narrow access or change ids
// (--security-label, --uid-map, --gid-map) are parsed, then refused with
// kInvalidArgument naming them. --translate-uid/--translate-gid rules are checked
// with the broker's own table (broker/id_translation.h) and passed on.
struct Options {
  // Where the shared directory is and how QEMU reaches us. Exactly one of
  // socket_path and listen_fd is set after a successful parse for Action::kRun.
  std::string shared_dir;
  std::string socket_path;
  std::optional<int> listen_fd;
  std::optional<std::string> socket_group;

  // Defaults are the Rust virtiofsd's (see the README of the launcher's choices).
  SandboxMode sandbox = SandboxMode::kNamespace;
  SeccompAction seccomp = SeccompAction::kKill;
  CachePolicy cache = CachePolicy::kAuto;
  FileHandleMode inode_file_handles = FileHandleMode::kNever;
  bool announce_submounts = true;
  bool killpriv_v2 = false;
  size_t thread_pool_size = 0;
  // Request queues the device offers (QEMU's vhost-user-fs-pci num-request-queues
  // must not exceed it), 1..kMaxRequestQueues.
  uint32_t request_queues = 1;

  std::optional<std::string> tag;
  bool xattr = false;
  bool posix_acl = false;
  std::optional<std::string> xattrmap;
  // --translate-uid/--translate-gid rules, in command-line order.
  std::vector<std::string> translate_uid;
  std::vector<std::string> translate_gid;
  bool readonly = false;
  bool allow_mmap = false;
  bool no_readdirplus = false;
  bool writeback = false;
  bool allow_direct_io = false;
  bool preserve_noatime = false;
  std::optional<std::string> modcaps;
  std::optional<uint64_t> rlimit_nofile;
  // The frontend runs as uid/gid base + the launcher's pid (frontend_identity.h);
  // 0: as nobody (65534).
  uint32_t frontend_id_base = kDefaultFrontendIdBase;

  LogLevel log_level = LogLevel::kInfo;
  bool syslog = false;

  MigrationMode migration_mode = MigrationMode::kFindPaths;
  MigrationOnError migration_on_error = MigrationOnError::kAbort;
  bool migration_verify_handles = false;
  bool migration_confirm_paths = false;
};

struct Command {
  enum class Action { kRun, kHelp, kVersion, kPrintCapabilities };
  Action action = Action::kRun;
  Options options;
  // One line each, to log as warnings at start: deprecated spellings, and options
  // that are accepted but not honoured by this implementation.
  std::vector<std::string> notices;
};

// Parses `args` (argv without argv[0]). An empty command line is an error (the
// Rust daemon prints its usage and exits 2). --help, --version and
// --print-capabilities win over everything else once the whole line has parsed.
absl::StatusOr<Command> ParseCommandLine(absl::Span<const std::string> args);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_OPTIONS_H_
