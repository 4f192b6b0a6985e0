/* Runs one file operation as a given user, for tests/e2e/permissions.sh: in the
 * busybox test guest (so it is linked statically) and on the host, where its
 * answers are the reference.
 *
 *   perm_helper UID GID GROUPS UMASK OP ARGS...
 *
 * GROUPS is a comma-separated list of supplementary groups ("-" for none). As
 * root, the helper calls setgroups, setgid and setuid (dropping every
 * capability), sets the umask, then runs OP:
 *   read PATH            open O_RDONLY and read
 *   write PATH           open O_WRONLY and write one byte
 *   opentrunc PATH       open O_WRONLY|O_TRUNC
 *   truncate PATH        truncate(PATH, 1)
 *   opendir PATH         open O_RDONLY|O_DIRECTORY and read the entries
 *   create PATH MODE     open O_CREAT|O_EXCL|O_WRONLY with MODE (octal)
 *   mkdir PATH MODE
 *   chmod PATH MODE
 *   chown PATH UID GID   (-1 leaves one unchanged)
 *   rename OLD NEW
 *   unlink PATH
 *   touch PATH           utimensat(PATH, NULL): "now"
 *   utimes PATH          utimensat with explicit times
 *   setcap PATH          setxattr security.capability (an empty version-2 value)
 *   stat PATH            prints "MODE UID GID" (MODE in octal, with set-id bits)
 * and prints "ok" or the errno's name. Exit 0 once the operation ran, 2 on bad
 * usage or when the user could not be assumed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char* ErrnoName(int err) {
  switch (err) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case EROFS: return "EROFS";
    case EXDEV: return "EXDEV";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENODATA: return "ENODATA";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    default: {
      static char buf[32];
      snprintf(buf, sizeof(buf), "errno%d", err);
      return buf;
    }
  }
}

static int Usage(void) {
  fputs("usage: perm_helper UID GID GROUPS UMASK OP ARGS...\n", stderr);
  return 2;
}

static int Result(long rc) { return rc < 0 ? errno : 0; }

static mode_t Mode(const char* s) { return (mode_t)strtoul(s, NULL, 8); }

static int Run(int argc, char** argv) {
  const char* op = argv[0];
  const char* path = argc > 1 ? argv[1] : NULL;
  if (path == NULL) return -1;
  if (strcmp(op, "read") == 0 || strcmp(op, "write") == 0 || strcmp(op, "opentrunc") == 0) {
    const int flags = op[0] == 'r' ? O_RDONLY : op[0] == 'w' ? O_WRONLY : O_WRONLY | O_TRUNC;
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return errno;
    char c = 'x';
    int err = 0;
    if (op[0] == 'r') err = Result(read(fd, &c, 1));
    if (op[0] == 'w') err = Result(write(fd, &c, 1));
    close(fd);
    return err;
  }
  if (strcmp(op, "truncate") == 0) return Result(truncate(path, 1));
  if (strcmp(op, "opendir") == 0) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    char buf[4096];
    int err = Result(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
    close(fd);
    return err;
  }
  if (strcmp(op, "create") == 0 && argc == 3) {
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, Mode(argv[2]));
    if (fd < 0) return errno;
    close(fd);
    return 0;
  }
  if (strcmp(op, "mkdir") == 0 && argc == 3) return Result(mkdir(path, Mode(argv[2])));
  if (strcmp(op, "chmod") == 0 && argc == 3) return Result(chmod(path, Mode(argv[2])));
  if (strcmp(op, "chown") == 0 && argc == 4) {
    return Result(chown(path, (uid_t)atol(argv[2]), (gid_t)atol(argv[3])));
  }
  if (strcmp(op, "rename") == 0 && argc == 3) return Result(rename(path, argv[2]));
  if (strcmp(op, "unlink") == 0) return Result(unlink(path));
  if (strcmp(op, "touch") == 0) return Result(utimensat(AT_FDCWD, path, NULL, 0));
  if (strcmp(op, "utimes") == 0) {
    const struct timespec times[2] = {{1000000, 0}, {2000000, 0}};
    return Result(utimensat(AT_FDCWD, path, times, 0));
  }
  if (strcmp(op, "setcap") == 0) {
    /* struct vfs_cap_data, revision 2, no capabilities. */
    const unsigned char cap[20] = {0x00, 0x00, 0x00, 0x02};
    return Result(setxattr(path, "security.capability", cap, sizeof(cap), 0));
  }
  if (strcmp(op, "stat") == 0) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno;
    printf("%04o %u %u\n", (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
           (unsigned)st.st_gid);
    return -2;
  }
  return -1;
}

int main(int argc, char** argv) {
  if (argc < 7) return Usage();
  const uid_t uid = (uid_t)atol(argv[1]);
  const gid_t gid = (gid_t)atol(argv[2]);
  gid_t groups[32];
  size_t ngroups = 0;
  if (strcmp(argv[3], "-") != 0) {
    for (char* g = strtok(argv[3], ","); g != NULL && ngroups < 32; g = strtok(NULL, ",")) {
      groups[ngroups++] = (gid_t)atol(g);
    }
  }
  if (setgroups(ngroups, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    perror("perm_helper: cannot become the user");
    return 2;
  }
  umask(Mode(argv[4]));
  const int err = Run(argc - 5, argv + 5);
  if (err == -1) return Usage();
  if (err != -2) printf("%s\n", ErrnoName(err));
  return 0;
}
