// Test helper: the set of fds open in this process, read from /proc/self/fd, so a
// test can assert that an operation leaked nothing.

#ifndef VIRTIOFSD_COMMON_TESTING_OPEN_FDS_H_
#define VIRTIOFSD_COMMON_TESTING_OPEN_FDS_H_

#include <dirent.h>
#include <stdlib.h>

#include <set>

namespace virtiofsd::testing {

inline std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) abort();
  const int own_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = atoi(entry->d_name);
    if (fd != own_fd) fds.insert(fd);
  }
  closedir(dir);
  return fds;
}

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_COMMON_TESTING_OPEN_FDS_H_
