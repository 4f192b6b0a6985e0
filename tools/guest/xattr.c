/* A tiny static xattr tool for the busybox test guest (busybox has no setfattr/getfattr).
 *   xattr set PATH NAME VALUE    setxattr(2) on PATH (not following a final symlink)
 *   xattr get PATH NAME          prints the value followed by a newline
 *   xattr list PATH              prints one name per line, in the order the kernel gives
 *   xattr rm PATH NAME           removexattr(2)
 * Exits 0 on success, 1 with "xattr: OP: strerror" on stderr on failure, 2 on bad usage.
 * Built by tools/guest/prepare.sh with `cc -static`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

static int fail(const char* op) {
  fprintf(stderr, "xattr: %s: %s\n", op, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  static char buf[65536];
  if (argc == 5 && strcmp(argv[1], "set") == 0) {
    if (lsetxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) != 0) return fail("set");
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "get") == 0) {
    ssize_t n = lgetxattr(argv[2], argv[3], buf, sizeof(buf));
    if (n < 0) return fail("get");
    fwrite(buf, 1, (size_t)n, stdout);
    putchar('\n');
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "list") == 0) {
    ssize_t n = llistxattr(argv[2], buf, sizeof(buf));
    if (n < 0) return fail("list");
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) puts(buf + i);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "rm") == 0) {
    if (lremovexattr(argv[2], argv[3]) != 0) return fail("rm");
    return 0;
  }
  fprintf(stderr, "usage: xattr set PATH NAME VALUE | get PATH NAME | list PATH | rm PATH NAME\n");
  return 2;
}
