#include "launcher/syslog_writer.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace virtiofsd {
namespace {

int Severity(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarn:
      return LOG_WARNING;
    case LogLevel::kInfo:
      return LOG_INFO;
    default:
      return LOG_DEBUG;
  }
}

void ToStderr(const std::string& line) {
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

// The launcher's own notice about the logger, on stderr.
void Warn(absl::string_view message) {
  ToStderr(StderrLine("virtiofsd", getpid(), LogLevel::kWarn, message));
}

}  // namespace

SyslogWriter::SyslogWriter(std::string path) : path_(std::move(path)) {
  absl::MutexLock lock(&mu_);
  if (!ConnectLocked()) {
    stderr_only_ = true;
    Warn(absl::StrCat("cannot connect to syslog at ", path_, " (", strerror(errno),
                      "); logging to stderr"));
  }
}

bool SyslogWriter::ConnectLocked() {
  fd_.Reset();
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return false;
  }
  path_.copy(addr.sun_path, path_.size());
  for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
    UniqueFd fd(socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return false;
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd_ = std::move(fd);
      stream_ = type == SOCK_STREAM;
      return true;
    }
    if (errno != EPROTOTYPE) return false;  // the other type is tried only for this
  }
  return false;
}

bool SyslogWriter::SendLocked(const std::string& datagram) {
  if (!fd_.valid()) return false;
  const std::string data = stream_ ? datagram + '\0' : datagram;
  if (send(fd_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return true;
  return errno == EAGAIN;  // a busy logger loses the line; it is still there
}

void SyslogWriter::Write(absl::string_view ident, pid_t pid, LogLevel level,
                         absl::string_view message) {
  absl::MutexLock lock(&mu_);
  if (stderr_only_) return ToStderr(StderrLine(ident, pid, level, message));
  const std::string datagram =
      absl::StrCat("<", LOG_DAEMON | Severity(level), ">",
                   absl::FormatTime("%b %e %H:%M:%S ", absl::Now(), absl::LocalTimeZone()), ident,
                   "[", pid, "]: ", message);
  // A logger that restarted has a new socket: reconnect once.
  if (SendLocked(datagram) || (ConnectLocked() && SendLocked(datagram))) {
    in_outage_ = false;
    return;
  }
  if (!in_outage_) {
    in_outage_ = true;
    Warn(absl::StrCat("syslog at ", path_, " is unavailable (", strerror(errno),
                      "); logging to stderr until it is back"));
  }
  ToStderr(StderrLine(ident, pid, level, message));
}

}  // namespace virtiofsd
