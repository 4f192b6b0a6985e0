// Test helper: fills this process's fd table while it lives (lowers the soft
// RLIMIT_NOFILE a little above the highest open fd and duplicates fds until
// EMFILE), so a test can see what happens when an fd cannot be received. The
// destructor closes the fillers and restores the limit.

#ifndef VIRTIOFSD_COMMON_TESTING_FULL_FD_TABLE_H_
#define VIRTIOFSD_COMMON_TESTING_FULL_FD_TABLE_H_

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/testing/open_fds.h"

namespace virtiofsd::testing {

class FullFdTable {
 public:
  FullFdTable() {
    if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) abort();
    rlimit low = saved_;
    low.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, *OpenFds().rbegin() + 16);
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) abort();
    for (int fd; (fd = dup(STDERR_FILENO)) >= 0;) fillers_.push_back(fd);
    if (errno != EMFILE) abort();
  }
  ~FullFdTable() {
    for (int fd : fillers_) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  FullFdTable(const FullFdTable&) = delete;
  FullFdTable& operator=(const FullFdTable&) = delete;

 private:
  rlimit saved_;
  std::vector<int> fillers_;
};

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_COMMON_TESTING_FULL_FD_TABLE_H_
