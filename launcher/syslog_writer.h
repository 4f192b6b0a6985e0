// The launcher's connection to the system logger, used for --syslog: its own lines
// and the children's (relayed by ChildLinks) go out as one datagram each, in the
// format syslogd and journald read ("<PRI>TIME IDENT[PID]: MESSAGE", facility
// daemon), each naming the process it comes from and that process's host pid.
//
// Without a logger at start (no socket at `path`), every line goes to stderr after
// one warning, as the Rust virtiofsd does. When the logger restarts (its socket is
// recreated), the failed send reconnects and sends again; while it stays away,
// lines go to stderr, with one warning per outage. A logger too busy to take a
// line at once loses the line: logging never blocks the launcher.
//
// Thread-safe.

#ifndef VIRTIOFSD_LAUNCHER_SYSLOG_WRITER_H_
#define VIRTIOFSD_LAUNCHER_SYSLOG_WRITER_H_

#include <sys/types.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// Where the system logger listens.
inline constexpr char kSyslogSocket[] = "/dev/log";

class SyslogWriter {
 public:
  // Connects to the logger's socket at `path` (kSyslogSocket but in tests).
  explicit SyslogWriter(std::string path);

  void Write(absl::string_view ident, pid_t pid, LogLevel level, absl::string_view message);

 private:
  // Replaces fd_ with a new connection; false (and fd_ invalid) if there is none.
  bool ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool SendLocked(const std::string& datagram) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  UniqueFd fd_ ABSL_GUARDED_BY(mu_);
  bool stream_ ABSL_GUARDED_BY(mu_) = false;       // a SOCK_STREAM logger: NUL ends a line
  bool stderr_only_ ABSL_GUARDED_BY(mu_) = false;  // no logger at start
  bool in_outage_ ABSL_GUARDED_BY(mu_) = false;    // warned about the logger being away
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_SYSLOG_WRITER_H_
