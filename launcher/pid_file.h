// The Rust virtiofsd's `<socket-path>.pid` lock: a file holding the daemon's pid,
// locked with flock() for as long as the daemon runs, so that a second daemon on
// the same socket path fails instead of stealing the socket.

#ifndef VIRTIOFSD_LAUNCHER_PID_FILE_H_
#define VIRTIOFSD_LAUNCHER_PID_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace virtiofsd {

class PidFile {
 public:
  // Creates or opens `path` (mode 0600, O_NOFOLLOW), takes an exclusive lock
  // without waiting, and writes this process's pid into it. Errors:
  // kFailedPrecondition naming the path when another process holds the lock;
  // ENOENT naming the directory (not the file) when the directory is missing;
  // else the errno of the failing call.
  static absl::StatusOr<PidFile> Acquire(const std::string& path);

  PidFile(PidFile&&) = default;
  PidFile& operator=(PidFile&&) = default;

  // Unlinks the file while still holding the lock, then releases it.
  void Remove();

  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;  // holds the flock
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_PID_FILE_H_
