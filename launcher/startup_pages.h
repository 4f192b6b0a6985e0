// After start-up the launcher only waits for its children and relays their log
// lines (supervisor.h, child_links.h); the code and read-only data it touched to
// parse options and build the children's configurations (libprotobuf, libstdc++,
// its own executable) stay mapped and count in its RSS and PSS.
//
// ReleaseStartupPages() drops from this process's page tables every page of each
// private, non-writable file mapping that holds no page of its own (no
// copy-on-write copy, as relocated read-only data has): such pages are the file's,
// and the kernel maps them again from the page cache (or reads the file) on the
// next access. Nothing changes but the memory counted to this process. Returns the
// KiB released; where /proc/self/smaps cannot be read nothing is released.

#ifndef VIRTIOFSD_LAUNCHER_STARTUP_PAGES_H_
#define VIRTIOFSD_LAUNCHER_STARTUP_PAGES_H_

#include <cstdint>

namespace virtiofsd {

uint64_t ReleaseStartupPages();

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_STARTUP_PAGES_H_
