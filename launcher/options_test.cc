#include "launcher/options.h"

#include <functional>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::virtiofsd::testing::StatusIs;
using Action = Command::Action;

// The minimal valid command line, followed by `extra`.
std::vector<std::string> Line(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--shared-dir=/srv", "--socket-path=/run/vfsd.sock"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(OptionsTest, DefaultsAreTheRustDaemons) {
  ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine(Line({})));
  const Options& o = command.options;
  EXPECT_EQ(command.action, Action::kRun);
  EXPECT_EQ(o.shared_dir, "/srv");
  EXPECT_EQ(o.socket_path, "/run/vfsd.sock");
  EXPECT_FALSE(o.listen_fd.has_value());
  EXPECT_EQ(o.sandbox, SandboxMode::kNamespace);
  EXPECT_EQ(o.seccomp, SeccompAction::kKill);
  EXPECT_EQ(o.cache, CachePolicy::kAuto);
  EXPECT_EQ(o.inode_file_handles, FileHandleMode::kNever);
  EXPECT_TRUE(o.announce_submounts);
  EXPECT_FALSE(o.killpriv_v2);
  EXPECT_EQ(o.thread_pool_size, 0u);
  EXPECT_EQ(o.request_queues, 1u);
  EXPECT_EQ(o.log_level, LogLevel::kInfo);
  EXPECT_FALSE(o.xattr);
  EXPECT_FALSE(o.readonly);
  EXPECT_THAT(command.notices, IsEmpty());
}

// Each row: a command line (after the minimal one) and what it must set.
struct GoodCase {
  std::vector<std::string> extra;
  std::function<bool(const Options&)> check;
};

TEST(OptionsTest, EveryOptionParses) {
  const GoodCase cases[] = {
      {{"--tag", "myfs"}, [](const Options& o) { return o.tag == "myfs"; }},
      {{"--tag=123456789012345678901234567890123456"},
       [](const Options& o) { return o.tag->size() == 36; }},
      {{"--socket-group=kvm"}, [](const Options& o) { return o.socket_group == "kvm"; }},
      {{"--thread-pool-size", "16"}, [](const Options& o) { return o.thread_pool_size == 16; }},
      {{"--num-request-queues=4"}, [](const Options& o) { return o.request_queues == 4; }},
      {{"--num-request-queues", "1"}, [](const Options& o) { return o.request_queues == 1; }},
      {{"--num-request-queues=64"}, [](const Options& o) { return o.request_queues == 64; }},
      {{"--num-request-queues=8", "--num-request-queues=2"},
       [](const Options& o) { return o.request_queues == 2; }},
      {{"--xattr"}, [](const Options& o) { return o.xattr; }},
      {{"--posix-acl"}, [](const Options& o) { return o.posix_acl && o.xattr; }},
      {{"--xattrmap=:map::user.virtiofs.:"},
       [](const Options& o) { return o.xattrmap == ":map::user.virtiofs.:" && o.xattr; }},
      {{"--sandbox", "chroot"}, [](const Options& o) { return o.sandbox == SandboxMode::kChroot; }},
      {{"--sandbox=none"}, [](const Options& o) { return o.sandbox == SandboxMode::kNone; }},
      {{"--readonly"}, [](const Options& o) { return o.readonly; }},
      {{"--seccomp=log"}, [](const Options& o) { return o.seccomp == SeccompAction::kLog; }},
      {{"--seccomp", "trap"}, [](const Options& o) { return o.seccomp == SeccompAction::kTrap; }},
      {{"--seccomp=none"}, [](const Options& o) { return o.seccomp == SeccompAction::kNone; }},
      {{"--no-announce-submounts"}, [](const Options& o) { return !o.announce_submounts; }},
      {{"--no-announce-submounts", "--announce-submounts"},
       [](const Options& o) { return o.announce_submounts; }},
      {{"--inode-file-handles=prefer"},
       [](const Options& o) { return o.inode_file_handles == FileHandleMode::kPrefer; }},
      {{"--inode-file-handles=mandatory"},
       [](const Options& o) { return o.inode_file_handles == FileHandleMode::kMandatory; }},
      {{"--cache=always"}, [](const Options& o) { return o.cache == CachePolicy::kAlways; }},
      {{"--cache", "never"}, [](const Options& o) { return o.cache == CachePolicy::kNever; }},
      {{"--cache=metadata"}, [](const Options& o) { return o.cache == CachePolicy::kMetadata; }},
      // libvirt's <cache mode='none'/>.
      {{"--cache=none"}, [](const Options& o) { return o.cache == CachePolicy::kNever; }},
      {{"--allow-mmap"}, [](const Options& o) { return o.allow_mmap; }},
      {{"--no-readdirplus"}, [](const Options& o) { return o.no_readdirplus; }},
      {{"--writeback"}, [](const Options& o) { return o.writeback; }},
      {{"--allow-direct-io"}, [](const Options& o) { return o.allow_direct_io; }},
      {{"--modcaps=+sys_admin:-chown"},
       [](const Options& o) { return o.modcaps == "+sys_admin:-chown"; }},
      {{"--modcaps=-MKNOD"}, [](const Options& o) { return o.modcaps == "-MKNOD"; }},
      {{"--log-level", "debug"}, [](const Options& o) { return o.log_level == LogLevel::kDebug; }},
      {{"--log-level=off"}, [](const Options& o) { return o.log_level == LogLevel::kOff; }},
      // Case-insensitive, as the Rust daemon's LevelFilter.
      {{"--log-level=DEBUG"}, [](const Options& o) { return o.log_level == LogLevel::kDebug; }},
      {{"--log-level", "Warn"}, [](const Options& o) { return o.log_level == LogLevel::kWarn; }},
      {{"--log-level=OFF"}, [](const Options& o) { return o.log_level == LogLevel::kOff; }},
      {{"--syslog"}, [](const Options& o) { return o.syslog; }},
      {{"--rlimit-nofile=4096"}, [](const Options& o) { return o.rlimit_nofile == 4096u; }},
      {{"--rlimit-nofile", "0"}, [](const Options& o) { return o.rlimit_nofile == 0u; }},
      {{}, [](const Options& o) { return o.frontend_id_base == kDefaultFrontendIdBase; }},
      {{"--frontend-id-base=0"}, [](const Options& o) { return o.frontend_id_base == 0u; }},
      {{"--frontend-id-base", "200000"},
       [](const Options& o) { return o.frontend_id_base == 200000u; }},
      {{"--killpriv-v2"}, [](const Options& o) { return o.killpriv_v2; }},
      {{"--killpriv-v2", "--no-killpriv-v2"}, [](const Options& o) { return !o.killpriv_v2; }},
      {{"--preserve-noatime"}, [](const Options& o) { return o.preserve_noatime; }},
      {{"--migration-mode=file-handles"},
       [](const Options& o) { return o.migration_mode == MigrationMode::kFileHandles; }},
      {{"--migration-on-error", "guest-error"},
       [](const Options& o) { return o.migration_on_error == MigrationOnError::kGuestError; }},
      {{"--migration-verify-handles", "--migration-confirm-paths"},
       [](const Options& o) { return o.migration_verify_handles && o.migration_confirm_paths; }},
      // A repeated option overrides the earlier one, as with clap.
      {{"--cache=never", "--cache=always"},
       [](const Options& o) { return o.cache == CachePolicy::kAlways; }},
      {{"--shared-dir=/other"}, [](const Options& o) { return o.shared_dir == "/other"; }},
  };
  for (const GoodCase& c : cases) {
    absl::StatusOr<Command> command = ParseCommandLine(Line(c.extra));
    ASSERT_OK(command) << ::testing::PrintToString(c.extra);
    EXPECT_TRUE(c.check(command->options)) << ::testing::PrintToString(c.extra);
  }
}

// The command lines libvirt (qemu_virtiofs.c, before and after it relied on
// "separate-options") and Kata's Go runtime (virtiofsd.go) build, verbatim.
TEST(OptionsTest, LibvirtAndKataCommandLinesParse) {
  const std::vector<std::vector<std::string>> lines = {
      {"--fd=23", "--shared-dir=/srv/vm1", "--cache=none", "--sandbox=chroot", "--xattr",
       "--thread-pool-size=16", "--log-level=debug"},
      {"--fd=23", "-o", "source=/srv/vm1,cache=always,sandbox=namespace,xattr,no_flock",
       "--thread-pool-size=16", "-d"},
      {"--syslog", "--cache=auto", "--shared-dir=/run/kata-containers/shared/sandboxes/x", "--fd=3",
       "--thread-pool-size=1", "--announce-submounts"},
  };
  for (const std::vector<std::string>& line : lines) {
    absl::StatusOr<Command> command = ParseCommandLine(line);
    ASSERT_OK(command) << ::testing::PrintToString(line);
    EXPECT_EQ(command->action, Action::kRun);
    EXPECT_TRUE(command->options.listen_fd.has_value());
  }
}

TEST(OptionsTest, FdInsteadOfSocketPath) {
  ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine({"--shared-dir=/srv", "--fd=7"}));
  EXPECT_EQ(command.options.listen_fd, 7);
  EXPECT_EQ(command.options.socket_path, "");
}

TEST(OptionsTest, DeprecatedSocketAndCompatForms) {
  ASSERT_OK_AND_ASSIGN(
      Command command,
      ParseCommandLine({"--socket", "/tmp/vfsd.sock", "-o", "source=/srv,cache=none,xattr",
                        "-oannounce_submounts,no_readdirplus,writeback,sandbox=chroot", "-o",
                        "loglevel=warn,modcaps=+sys_admin,killpriv_v2,posix_acl,no_flock", "-f"}));
  const Options& o = command.options;
  EXPECT_EQ(o.socket_path, "/tmp/vfsd.sock");
  EXPECT_EQ(o.shared_dir, "/srv");
  EXPECT_EQ(o.cache, CachePolicy::kNever);
  EXPECT_TRUE(o.xattr);
  EXPECT_TRUE(o.no_readdirplus);
  EXPECT_TRUE(o.writeback);
  EXPECT_EQ(o.sandbox, SandboxMode::kChroot);
  EXPECT_EQ(o.log_level, LogLevel::kWarn);
  EXPECT_EQ(o.modcaps, "+sys_admin");
  EXPECT_TRUE(o.killpriv_v2);
  EXPECT_TRUE(o.posix_acl);
  EXPECT_THAT(command.notices, Contains(HasSubstr("'--socket'")));
  EXPECT_THAT(command.notices, Contains(HasSubstr("'-o'")));
  EXPECT_THAT(command.notices, Contains(HasSubstr("'-f'")));
}

TEST(OptionsTest, CompatOptionsWinOverLongOnesWhereverTheyStand) {
  // The Rust daemon applies -o after everything else.
  ASSERT_OK_AND_ASSIGN(Command command,
                       ParseCommandLine(Line({"-o", "cache=always", "--cache=never"})));
  EXPECT_EQ(command.options.cache, CachePolicy::kAlways);
}

TEST(OptionsTest, DebugFlagSetsDebugLevel) {
  ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine(Line({"-d", "--log-level=error"})));
  EXPECT_EQ(command.options.log_level, LogLevel::kDebug);
  EXPECT_THAT(command.notices, Contains(HasSubstr("'-d'")));
  ASSERT_OK_AND_ASSIGN(command, ParseCommandLine(Line({"-df"})));
  EXPECT_EQ(command.options.log_level, LogLevel::kDebug);
}

TEST(OptionsTest, FallbackIsADeprecatedAliasOfPrefer) {
  ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine(Line({"--inode-file-handles=fallback"})));
  EXPECT_EQ(command.options.inode_file_handles, FileHandleMode::kPrefer);
  EXPECT_THAT(command.notices, Contains(HasSubstr("'fallback'")));
}

TEST(OptionsTest, OptionsNotHonouredSaySo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--migration-mode=find-paths"}, "'--migration-*'"},
      {{"--migration-confirm-paths"}, "'--migration-*'"},
      {{"--rlimit-nofile=0"}, "'--rlimit-nofile=0'"},
  };
  for (const auto& [extra, notice] : cases) {
    ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine(Line(extra)));
    EXPECT_THAT(command.notices, Contains(HasSubstr(notice))) << notice;
    EXPECT_EQ(command.notices.size(), 1u) << notice;
  }
}

// An option that would change ids or labels and is not implemented must never be
// accepted and ignored: each is refused, naming itself and why.
TEST(OptionsTest, OptionsThatWouldBeIgnoredAreRefused) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--uid-map=:0:1000:1:"}, "'--uid-map' is not supported"},
      {{"--uid-map", ":0:1000:1:", "--uid-map=:1:100000:65536:"}, "'--uid-map' is not supported"},
      {{"--gid-map=:0:1000:1:"}, "'--gid-map' is not supported"},
      {{"--security-label"}, "'--security-label' is not supported"},
      {{"-o", "security_label"}, "'--security-label' is not supported"},
  };
  for (const auto& [extra, message] : cases) {
    absl::StatusOr<Command> command = ParseCommandLine(Line(extra));
    EXPECT_THAT(command, StatusIs(absl::StatusCode::kInvalidArgument))
        << ::testing::PrintToString(extra);
    EXPECT_THAT(std::string(command.status().message()), HasSubstr(message))
        << ::testing::PrintToString(extra);
  }
  // Turned off again by the legacy form, nothing is left to refuse.
  EXPECT_OK(ParseCommandLine(Line({"-o", "security_label,no_security_label"})));
}

// Id translation rules are kept in order, one per option, for the broker.
TEST(OptionsTest, TranslateRulesArePassedOnInOrder) {
  ASSERT_OK_AND_ASSIGN(
      Command command,
      ParseCommandLine(Line({"--translate-uid=squash-guest:0:1001:4294967295", "--translate-gid",
                             "map:0:100:1", "--translate-uid=host:1001:0:1", "--posix-acl"})));
  EXPECT_EQ(command.options.translate_uid,
            (std::vector<std::string>{"squash-guest:0:1001:4294967295", "host:1001:0:1"}));
  EXPECT_EQ(command.options.translate_gid, (std::vector<std::string>{"map:0:100:1"}));
}

// Overlapping rules of one direction are refused before any process starts, as
// the broker (and the Rust virtiofsd) would refuse them.
TEST(OptionsTest, OverlappingTranslateRulesAreRefused) {
  absl::StatusOr<Command> command = ParseCommandLine(
      Line({"--translate-uid=forbid-guest:0:1000", "--translate-uid=map:999:999:1"}));
  EXPECT_THAT(command, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(command.status().message()), HasSubstr("'--translate-uid'"));
  EXPECT_THAT(std::string(command.status().message()), HasSubstr("overlap an earlier rule"));
  // The directions are independent; uids and gids too.
  EXPECT_OK(ParseCommandLine(Line({"--translate-uid=squash-guest:0:5:10",
                                   "--translate-uid=host:5:0:1", "--translate-gid=guest:0:5:10"})));
}

TEST(OptionsTest, HelpVersionAndCapabilitiesNeedNothingElse) {
  const std::vector<std::pair<std::vector<std::string>, Action>> cases = {
      {{"--help"}, Action::kHelp},
      {{"-h"}, Action::kHelp},
      {{"--version"}, Action::kVersion},
      {{"-V"}, Action::kVersion},
      {{"--print-capabilities"}, Action::kPrintCapabilities},
      {{"--socket-path=/x", "--print-capabilities"}, Action::kPrintCapabilities},
  };
  for (const auto& [args, action] : cases) {
    ASSERT_OK_AND_ASSIGN(Command command, ParseCommandLine(args));
    EXPECT_EQ(command.action, action) << args[0];
  }
}

// Each row: a command line and a text the error must contain (the option's name).
struct BadCase {
  std::vector<std::string> args;
  std::string names;
};

TEST(OptionsTest, BadCommandLinesNameTheOption) {
  const BadCase cases[] = {
      {{}, "--shared-dir"},
      {Line({"--bogus"}), "'--bogus'"},
      {Line({"--bogus=1"}), "'--bogus'"},
      {Line({"-x"}), "'-x'"},
      {Line({"-dx"}), "'-x'"},
      {Line({"stray"}), "'stray'"},
      {Line({"--"}), "'--'"},
      {Line({"--cache=sometimes"}), "'--cache'"},
      {Line({"--cache"}), "'--cache'"},
      {Line({"--cache", "--xattr"}), "'--cache'"},
      {Line({"--sandbox=jail"}), "'--sandbox'"},
      {Line({"--seccomp=allow"}), "'--seccomp'"},
      {Line({"--inode-file-handles=always"}), "'--inode-file-handles'"},
      {Line({"--log-level=verbose"}), "'--log-level'"},
      {Line({"--thread-pool-size=-1"}), "'--thread-pool-size'"},
      {Line({"--thread-pool-size=many"}), "'--thread-pool-size'"},
      {Line({"--thread-pool-size=99999999999999999999999"}), "'--thread-pool-size'"},
      {Line({"--num-request-queues=0"}), "'--num-request-queues': must be 1 to 64"},
      {Line({"--num-request-queues=65"}), "'--num-request-queues': must be 1 to 64"},
      {Line({"--num-request-queues=-2"}), "'--num-request-queues'"},
      {Line({"--num-request-queues=two"}), "'--num-request-queues'"},
      {Line({"--num-request-queues="}), "'--num-request-queues'"},
      {Line({"--num-request-queues"}), "'--num-request-queues' needs a value"},
      {Line({"--rlimit-nofile=1k"}), "'--rlimit-nofile'"},
      {Line({"--frontend-id-base=4294000000"}), "'--frontend-id-base'"},
      {Line({"--frontend-id-base=-1"}), "'--frontend-id-base'"},
      {Line({"--xattr=yes"}), "'--xattr'"},
      {Line({"--readonly=true"}), "'--readonly'"},
      {Line({"--tag="}), "'--tag'"},
      {Line({"--tag=1234567890123456789012345678901234567"}), "'--tag'"},
      {Line({"--modcaps=sys_admin"}), "'--modcaps'"},
      {Line({"--modcaps=+sys_admn"}), "'--modcaps'"},
      {Line({"--modcaps=+chown:"}), "'--modcaps'"},
      {Line({"--uid-map=0:1000:1"}), "'--uid-map'"},
      {Line({"--gid-map=:0:1000:0:"}), "'--gid-map'"},
      {Line({"--translate-uid=squash:0:1:1"}), "'--translate-uid'"},
      {Line({"--translate-gid=map:0:1"}), "'--translate-gid'"},
      {Line({"--migration-mode=paths"}), "'--migration-mode'"},
      {Line({"--migration-on-error=ignore"}), "'--migration-on-error'"},
      {Line({"--xattrmap="}), "'--xattrmap'"},
      {Line({"--xattrmap=this is not a rule"}), "'--xattrmap'"},
      {Line({"-o", "xattrmap=:prefix:all:a:"}), "'--xattrmap'"},
      {Line({"--shared-dir="}), "'--shared-dir'"},
      {Line({"-o", "source=/a,bogus"}), "'-o bogus'"},
      {Line({"-o", "cache=never"}), "'-o cache=never'"},
      {Line({"-o", "loglevel=error"}), "'-o loglevel=error'"},
      {Line({"-o", "sandbox=none"}), "'-o sandbox=none'"},
      {Line({"-o", "modcaps=+nope"}), "'-o modcaps=+nope'"},
      {Line({"-o"}), "'-o'"},
      {Line({"--socket-path=/" + std::string(200, 'a')}), "'--socket-path'"},
      {{"--socket-path=/run/x.sock"}, "'--shared-dir'"},
      {{"--shared-dir=/srv"}, "'--socket-path'"},
      {{"--shared-dir=/srv", "--fd=3", "--socket-path=/x"}, "'--fd'"},
      {{"--shared-dir=/srv", "--fd=3", "--socket=/x"}, "'--fd'"},
      {{"--shared-dir=/srv", "--fd=3", "--socket-group=kvm"}, "'--socket-group'"},
      {{"--shared-dir=/srv", "--fd=-3"}, "'--fd'"},
      {Line({"--migration-mode=file-handles", "--migration-confirm-paths"}),
       "'--migration-confirm-paths'"},
      {Line({"--migration-mode=file-handles", "--migration-verify-handles"}),
       "'--migration-verify-handles'"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<Command> command = ParseCommandLine(c.args);
    EXPECT_THAT(command, StatusIs(absl::StatusCode::kInvalidArgument))
        << ::testing::PrintToString(c.args);
    EXPECT_THAT(std::string(command.status().message()), HasSubstr(c.names))
        << ::testing::PrintToString(c.args);
  }
}

}  // namespace
}  // namespace virtiofsd
