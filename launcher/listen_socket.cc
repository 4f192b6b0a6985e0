#include "launcher/listen_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {

absl::StatusOr<ListenSocket> CreateListenSocket(const std::string& path,
                                                std::optional<gid_t> group) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("bad socket path '", path, "'"));
  }
  path.copy(addr.sun_path, path.size());

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket; not removing it"));
    }
    // A socket left by a daemon that died: the pid-file lock says none runs now.
    if (unlink(path.c_str()) != 0) return ErrnoError(errno, absl::StrCat("unlink ", path));
  } else if (errno != ENOENT) {
    return ErrnoError(errno, absl::StrCat("lstat ", path));
  }

  ListenSocket socket;
  socket.path = path;
  socket.fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.fd) return ErrnoError(errno, "socket(AF_UNIX)");
  // bind() creates the file with the umask applied: make it 0600 from the start,
  // so nobody can connect before the group and mode below are in place.
  const mode_t old_umask = umask(0177);
  const int bound = bind(socket.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_umask);
  if (bound != 0) return ErrnoError(bind_errno, absl::StrCat("bind ", path));
  if (lstat(path.c_str(), &st) != 0) return ErrnoError(errno, absl::StrCat("lstat ", path));
  socket.dev = st.st_dev;
  socket.ino = st.st_ino;
  if (group.has_value()) {
    if (lchown(path.c_str(), -1, *group) != 0 || chmod(path.c_str(), 0660) != 0) {
      const int err = errno;
      RemoveIfOurs(socket);
      return ErrnoError(err, absl::StrCat("give ", path, " to group ", *group));
    }
  }
  if (listen(socket.fd.get(), 1) != 0) {
    const int err = errno;
    RemoveIfOurs(socket);
    return ErrnoError(err, absl::StrCat("listen ", path));
  }
  return socket;
}

void RemoveIfOurs(const ListenSocket& socket) {
  struct stat st;
  if (lstat(socket.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket.dev &&
      st.st_ino == socket.ino) {
    unlink(socket.path.c_str());
  }
}

absl::StatusOr<UniqueFd> AdoptListenFd(int fd) {
  const std::string what = absl::StrCat("--fd=", fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, what);
  if (!S_ISSOCK(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a socket"));
  }
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len) != 0) return ErrnoError(errno, what);
  if (value != AF_UNIX) return absl::InvalidArgumentError(absl::StrCat(what, " is not AF_UNIX"));
  len = sizeof(value);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) != 0) return ErrnoError(errno, what);
  if (value != SOCK_STREAM) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a stream socket"));
  }
  len = sizeof(value);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) != 0) {
    return ErrnoError(errno, what);
  }
  if (value == 0) return absl::InvalidArgumentError(absl::StrCat(what, " is not listening"));
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return ErrnoError(errno, what);
  return UniqueFd(fd);
}

absl::StatusOr<gid_t> LookupGroup(const std::string& name) {
  group entry;
  group* result = nullptr;
  std::vector<char> buffer(16384);
  int err;
  while ((err = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result)) ==
         ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (err != 0) return ErrnoError(err, absl::StrCat("look up group ", name));
  if (result == nullptr) return absl::NotFoundError(absl::StrCat("no group named '", name, "'"));
  return entry.gr_gid;
}

}  // namespace virtiofsd
