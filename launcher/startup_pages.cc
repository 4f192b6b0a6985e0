#include "launcher/startup_pages.h"

#include <sys/mman.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace virtiofsd {
namespace {

struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool file_read_only_private = false;
  uint64_t rss_kib = 0;
  uint64_t anonymous_kib = 0;
};

// "start-end perms offset dev inode [path]" (proc_pid_maps(5)); false for a field line.
bool ParseHeader(const std::string& line, Mapping& mapping) {
  char perms[5] = {};
  int path_at = 0;
  if (sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %4s %*x %*s %*u %n", &mapping.start,
             &mapping.end, perms, &path_at) != 3) {
    return false;
  }
  const bool file = path_at > 0 && static_cast<size_t>(path_at) < line.size() &&
                    line[static_cast<size_t>(path_at)] == '/';
  mapping.file_read_only_private = file && perms[1] == '-' && perms[3] == 'p';
  return true;
}

}  // namespace

uint64_t ReleaseStartupPages() {
  std::ifstream smaps("/proc/self/smaps");
  std::vector<Mapping> mappings;
  for (std::string line; std::getline(smaps, line);) {
    Mapping header;
    if (ParseHeader(line, header)) {
      mappings.push_back(header);
      continue;
    }
    if (mappings.empty()) continue;
    uint64_t kib = 0;
    if (sscanf(line.c_str(), "Rss: %" SCNu64, &kib) == 1) mappings.back().rss_kib = kib;
    if (sscanf(line.c_str(), "Anonymous: %" SCNu64, &kib) == 1) mappings.back().anonymous_kib = kib;
  }
  // The list is read whole first: each madvise() changes what smaps would show.
  uint64_t released = 0;
  for (const Mapping& mapping : mappings) {
    if (!mapping.file_read_only_private || mapping.anonymous_kib != 0 || mapping.rss_kib == 0) {
      continue;
    }
    if (madvise(reinterpret_cast<void*>(mapping.start), mapping.end - mapping.start,
                MADV_DONTNEED) == 0) {
      released += mapping.rss_kib;
    }
  }
  return released;
}

}  // namespace virtiofsd
