// The settings that the launcher's command line names and both children obey,
// declared once for all three executables: each enum, and the spelling of its
// values on the command line ("namespace", "kill", "auto", "prefer").
//
// Pure: no I/O. Parse*() return nullopt for a name that is not one of the values.

#ifndef VIRTIOFSD_COMMON_SETTINGS_H_
#define VIRTIOFSD_COMMON_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/string_view.h"

namespace virtiofsd {

// --sandbox: how the broker is confined beneath the shared directory.
enum class SandboxMode { kNamespace, kChroot, kNone };
// --seccomp: what a syscall off a process's allow-list does.
enum class SeccompAction { kKill, kLog, kTrap, kNone };
// --cache: how long the guest may cache, with the Rust virtiofsd's meaning.
enum class CachePolicy { kAuto, kAlways, kNever, kMetadata };
// --inode-file-handles: whether the broker holds inodes by file handle.
enum class FileHandleMode { kNever, kPrefer, kMandatory };

// The command-line names, in the order --help lists them. Only the canonical
// spellings: aliases ("none" for the cache, "fallback" for prefer) are the
// launcher's business.
inline constexpr std::pair<absl::string_view, SandboxMode> kSandboxModeNames[] = {
    {"namespace", SandboxMode::kNamespace},
    {"chroot", SandboxMode::kChroot},
    {"none", SandboxMode::kNone},
};
inline constexpr std::pair<absl::string_view, SeccompAction> kSeccompActionNames[] = {
    {"kill", SeccompAction::kKill},
    {"log", SeccompAction::kLog},
    {"trap", SeccompAction::kTrap},
    {"none", SeccompAction::kNone},
};
inline constexpr std::pair<absl::string_view, CachePolicy> kCachePolicyNames[] = {
    {"auto", CachePolicy::kAuto},
    {"always", CachePolicy::kAlways},
    {"never", CachePolicy::kNever},
    {"metadata", CachePolicy::kMetadata},
};
inline constexpr std::pair<absl::string_view, FileHandleMode> kFileHandleModeNames[] = {
    {"never", FileHandleMode::kNever},
    {"prefer", FileHandleMode::kPrefer},
    {"mandatory", FileHandleMode::kMandatory},
};

absl::string_view NameOf(SandboxMode mode);
absl::string_view NameOf(SeccompAction action);
absl::string_view NameOf(CachePolicy policy);
absl::string_view NameOf(FileHandleMode mode);

std::optional<SandboxMode> ParseSandboxMode(absl::string_view name);
std::optional<SeccompAction> ParseSeccompAction(absl::string_view name);
std::optional<CachePolicy> ParseCachePolicy(absl::string_view name);
std::optional<FileHandleMode> ParseFileHandleMode(absl::string_view name);

// Seconds the guest may cache entries and attributes under `policy`:
// auto 1, always 86400, never 0, metadata 86400.
uint64_t CacheTimeoutSeconds(CachePolicy policy);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_SETTINGS_H_
