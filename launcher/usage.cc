#include "launcher/usage.h"

namespace virtiofsd {

std::string HelpText() {
  return R"(virtiofsd: share a host directory with a guest through a virtio-fs device
(vhost-user backend). Runs as two confined processes: an unprivileged frontend
that serves the vhost-user socket and a broker that holds the shared directory.

Usage: virtiofsd --shared-dir <SHARED_DIR> --socket-path <SOCKET_PATH> [OPTIONS]

Options:
      --shared-dir <DIR>            Shared directory path
      --tag <TAG>                   The tag that the virtio device advertises (1-36 bytes)
      --socket-path <PATH>          vhost-user socket path
      --socket <PATH>               vhost-user socket path [deprecated]
      --socket-group <GROUP>        Name of group for the vhost-user socket
      --fd <FD>                     File descriptor for the listening (not yet connected) socket
      --thread-pool-size <N>        Maximum thread pool size; 0 disables the pool [default: 0]
      --num-request-queues <N>      Request queues the device offers, 1-64 [default: 1];
                                    QEMU's vhost-user-fs-pci num-request-queues must not
                                    be higher
      --xattr                       Enable support for extended attributes
      --posix-acl                   Enable support for POSIX ACLs (implies --xattr)
      --xattrmap <RULES>            Rules translating extended attribute names between host
                                    and guest (e.g. :map::user.virtiofs.:)
      --sandbox <MODE>              How the broker isolates itself: namespace, chroot, none
                                    [default: namespace]
      --readonly                    Prevent the guest from modifying the file system
      --seccomp <ACTION>            Action on a syscall outside the allow-list: none, kill,
                                    log, trap [default: kill]
      --announce-submounts          Tell the guest which directories are mount points [default]
      --no-announce-submounts       Do not tell the guest which directories are mount points
      --inode-file-handles=<MODE>   Reference inodes by file handles: never, prefer, mandatory
                                    [default: never]
      --cache <POLICY>              Caching policy: auto, always, never (or none), metadata
                                    [default: auto]
      --allow-mmap                  With --cache=metadata or never, allow shared files to be
                                    mmap'd
      --no-readdirplus              Disable READDIRPLUS
      --writeback                   Enable the writeback cache
      --allow-direct-io             Honour O_DIRECT from guest applications
      --print-capabilities          Print the vhost-user backend capabilities JSON and exit
      --modcaps=<LIST>              Modify the broker's capabilities, e.g. +sys_admin:-chown
      --log-level <LEVEL>           error, warn, info, debug, trace, off, in any case
                                    [default: info]
      --syslog                      Log to syslog [default: stderr]
      --rlimit-nofile <N>           Set the maximum number of file descriptors of both
                                    processes (0 leaves it unchanged)
      --frontend-id-base <N>        The frontend runs as uid and gid N + the daemon's pid
                                    (0: as nobody, 65534) [default: 2130706432]
      --killpriv-v2                 Enable KILLPRIV V2 support
      --no-killpriv-v2              Disable KILLPRIV V2 support [default]
      --security-label              Refused: security labels are not supported
      --uid-map <:ns:host:count:>   Refused: start virtiofsd inside a user namespace instead
      --gid-map <:ns:host:count:>   Refused: start virtiofsd inside a user namespace instead
      --translate-uid <RULE>        Translate uids between guest and host (repeatable):
                                    guest:G:H:N, host:H:G:N, squash-guest:G:H:N,
                                    squash-host:H:G:N, forbid-guest:G:N, map:G:H:N
      --translate-gid <RULE>        Translate gids likewise (same rules)
      --preserve-noatime            Keep O_NOATIME from the guest instead of clearing it
      --migration-mode <MODE>       find-paths, file-handles [not honoured: no migration]
      --migration-on-error <WHAT>   abort, guest-error [not honoured]
      --migration-verify-handles    [not honoured]
      --migration-confirm-paths     [not honoured]
  -o <OPTIONS>                      Options in the legacy format, comma separated: source=DIR,
                                    cache=auto|always|none|metadata, loglevel=..., sandbox=...,
                                    xattrmap=..., modcaps=..., [no_]xattr, ... [deprecated]
  -d                                Set the log level to debug [deprecated]
  -f                                No effect [deprecated]
  -h, --help                        Print this help
  -V, --version                     Print the version

Exit status: 0 on SIGTERM/SIGINT or when the VMM disconnects, 2 for a bad command
line, 1 when a process fails (the message names it).
)";
}

std::string VersionText() { return "virtiofsd 0.1.0\n"; }

std::string CapabilitiesJson() {
  return R"({
  "type": "fs",
  "features": [
    "separate-options"
  ]
}
)";
}

}  // namespace virtiofsd
