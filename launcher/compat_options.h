// The deprecated `-o a,b=c` items of the legacy C virtiofsd, mapped onto Options
// the way the Rust virtiofsd maps them (-o source=DIR, cache=none, loglevel=err,
// xattr / no_xattr, ...). Pure: no syscalls.

#ifndef VIRTIOFSD_LAUNCHER_COMPAT_OPTIONS_H_
#define VIRTIOFSD_LAUNCHER_COMPAT_OPTIONS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "launcher/options.h"

namespace virtiofsd {

// Applies one item (the text between commas) to `options`. `security_label` is
// set or cleared by [no_]security_label, which the caller refuses later.
// kInvalidArgument naming "-o ITEM" for an unknown item or a bad value.
absl::Status ApplyCompatOption(absl::string_view item, Options& options, bool& security_label);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_COMPAT_OPTIONS_H_
