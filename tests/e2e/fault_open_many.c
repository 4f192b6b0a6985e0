// Guest helper of fault_limits_test (static, so it runs in the busybox test guest):
//   fault_open_many FILE MAX
// Opens FILE (read-only) again and again, holding every descriptor, until an open
// fails or MAX are open; then closes them all and opens FILE 50 times more, reading
// it each time. Prints "CASE open-many <errno name, or 'none'>", "CASE open-count N"
// and "CASE reopen ok" (or what went wrong); exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s FILE MAX\n", argv[0]);
    return 2;
  }
  const int max = atoi(argv[2]);
  int* fds = calloc(max, sizeof(int));
  int count = 0;
  int error = 0;
  while (count < max) {
    const int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = errno;
      break;
    }
    fds[count++] = fd;
  }
  printf("CASE open-many %s\n", error ? strerrorname_np(error) : "none");
  printf("CASE open-count %d\n", count);
  for (int i = 0; i < count; ++i) close(fds[i]);
  for (int i = 0; i < 50; ++i) {
    const int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    char byte;
    if (fd < 0 || read(fd, &byte, 1) < 0) {
      printf("CASE reopen %s\n", strerrorname_np(errno));
      return 0;
    }
    close(fd);
  }
  printf("CASE reopen ok\n");
  return 0;
}
