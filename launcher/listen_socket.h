// The vhost-user listening socket, made the way the Rust virtiofsd makes it from
// --socket-path/--socket-group, or checked when the caller passes it with --fd.
//
// The launcher only creates and hands over the socket; the frontend accepts on it.

#ifndef VIRTIOFSD_LAUNCHER_LISTEN_SOCKET_H_
#define VIRTIOFSD_LAUNCHER_LISTEN_SOCKET_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// A bound, listening AF_UNIX stream socket and the file that names it.
struct ListenSocket {
  UniqueFd fd;  // O_CLOEXEC
  std::string path;
  dev_t dev = 0;  // identity of the socket file, so RemoveIfOurs() never removes
  ino_t ino = 0;  // a file another daemon put there later
};

// Binds `path`: a stale socket file there is removed first (anything that is not a
// socket is an error: we never delete a user's file); the socket is made mode
// 0600, or 0660 with group `group`. Errors carry the errno and name the path.
absl::StatusOr<ListenSocket> CreateListenSocket(const std::string& path,
                                                std::optional<gid_t> group);

// Unlinks socket.path if it still names the socket we created.
void RemoveIfOurs(const ListenSocket& socket);

// Checks that `fd` (from --fd) is a listening AF_UNIX stream socket and takes it
// over (sets O_CLOEXEC). Errors: kInvalidArgument saying what the fd is instead,
// or the errno of the failing call.
absl::StatusOr<UniqueFd> AdoptListenFd(int fd);

// The gid of group `name` (getgrnam_r). kNotFound if there is no such group.
absl::StatusOr<gid_t> LookupGroup(const std::string& name);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_LISTEN_SOCKET_H_
