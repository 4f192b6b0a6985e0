// The texts `virtiofsd` prints and exits with: --help, --version and
// --print-capabilities (the vhost-user backend capabilities JSON that libvirt reads,
// docs/interop/vhost-user.json in QEMU). Pure: the caller prints them.

#ifndef VIRTIOFSD_LAUNCHER_USAGE_H_
#define VIRTIOFSD_LAUNCHER_USAGE_H_

#include <string>

namespace virtiofsd {

// Every option with a one-line description, ending in a newline.
std::string HelpText();

// "virtiofsd <version>\n".
std::string VersionText();

// {"type": "fs", "features": [...]}: "separate-options" (options are accepted as
// separate arguments, not only as -o) and not "migrate-precopy": this daemon does
// not migrate, and libvirt would otherwise allow migrating the guest.
std::string CapabilitiesJson();

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_USAGE_H_
