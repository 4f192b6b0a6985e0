#include "launcher/compat_options.h"

#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "launcher/option_values.h"

namespace virtiofsd {

absl::Status ApplyCompatOption(absl::string_view item, Options& o, bool& security_label) {
  const std::string shown = absl::StrCat("-o ", item);
  if (size_t eq = item.find('='); eq != absl::string_view::npos) {
    absl::string_view key = item.substr(0, eq);
    absl::string_view value = item.substr(eq + 1);
    if (key == "source") {
      VFSD_RETURN_IF_ERROR(NonEmpty(shown, value));
      o.shared_dir = std::string(value);
    } else if (key == "cache") {
      static constexpr std::pair<absl::string_view, CachePolicy> kNames[] = {
          {"auto", CachePolicy::kAuto},
          {"always", CachePolicy::kAlways},
          {"none", CachePolicy::kNever},
          {"metadata", CachePolicy::kMetadata},
      };
      VFSD_ASSIGN_OR_RETURN(o.cache, ParseEnum(shown, value, kNames));
    } else if (key == "loglevel") {
      static constexpr std::pair<absl::string_view, LogLevel> kNames[] = {
          {"debug", LogLevel::kDebug},
          {"info", LogLevel::kInfo},
          {"warn", LogLevel::kWarn},
          {"err", LogLevel::kError},
      };
      VFSD_ASSIGN_OR_RETURN(o.log_level, ParseEnum(shown, value, kNames));
    } else if (key == "sandbox") {
      static constexpr std::pair<absl::string_view, SandboxMode> kNames[] = {
          {"namespace", SandboxMode::kNamespace},
          {"chroot", SandboxMode::kChroot},
      };
      VFSD_ASSIGN_OR_RETURN(o.sandbox, ParseEnum(shown, value, kNames));
    } else if (key == "xattrmap") {
      VFSD_RETURN_IF_ERROR(NonEmpty(shown, value));
      o.xattrmap = std::string(value);
    } else if (key == "modcaps") {
      VFSD_RETURN_IF_ERROR(CheckModcaps(shown, value));
      o.modcaps = std::string(value);
    } else {
      return UnknownOption(shown);
    }
    return absl::OkStatus();
  }
  static const std::pair<absl::string_view, std::function<void(Options&)>> kSingles[] = {
      {"xattr", [](Options& o) { o.xattr = true; }},
      {"no_xattr", [](Options& o) { o.xattr = false; }},
      {"readdirplus", [](Options& o) { o.no_readdirplus = false; }},
      {"no_readdirplus", [](Options& o) { o.no_readdirplus = true; }},
      {"writeback", [](Options& o) { o.writeback = true; }},
      {"no_writeback", [](Options& o) { o.writeback = false; }},
      {"allow_direct_io", [](Options& o) { o.allow_direct_io = true; }},
      {"no_allow_direct_io", [](Options& o) { o.allow_direct_io = false; }},
      {"announce_submounts", [](Options& o) { o.announce_submounts = true; }},
      {"killpriv_v2", [](Options& o) { o.killpriv_v2 = true; }},
      {"no_killpriv_v2", [](Options& o) { o.killpriv_v2 = false; }},
      {"posix_acl", [](Options& o) { o.posix_acl = true; }},
      {"no_posix_acl", [](Options& o) { o.posix_acl = false; }},
      // The Rust daemon accepts these and does nothing: it never offers locks.
      {"no_posix_lock", [](Options&) {}},
      {"no_flock", [](Options&) {}},
  };
  if (item == "security_label" || item == "no_security_label") {
    security_label = item == "security_label";
    return absl::OkStatus();
  }
  for (const auto& [name, apply] : kSingles) {
    if (item == name) {
      apply(o);
      return absl::OkStatus();
    }
  }
  return UnknownOption(shown);
}

}  // namespace virtiofsd
