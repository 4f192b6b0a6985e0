/* File work for the load and soak guest scripts (tests/e2e/load.sh, soak.sh,
 * soak_reboot.sh) that busybox cannot do: holes, exact errnos, and workers that
 * check every byte they read against a model of what they wrote. Static, so it
 * runs in the busybox test guest; the tests put it in the share.
 *
 *   load_helper seek FILE            prints "data START END" per data extent
 *                                    (SEEK_DATA/SEEK_HOLE), then "size N"
 *   load_helper list DIR             prints every name readdir(3) returns, unsorted
 *                                    (what `ls -f` does; busybox's ls cannot)
 *   load_helper list-plus DIR        the same with getdents64, looking up the first
 *                                    name of each batch: the guest kernel then asks
 *                                    READDIRPLUS for every batch, as for `ls -l`, which
 *                                    also stats every name (0.5 ms each under TCG)
 *   load_helper create PATH          O_CREAT|O_EXCL: prints "ok" or the errno's name
 *   load_helper mkdir PATH           mkdir 0755: prints "ok" or the errno's name
 *   load_helper deeper DIR NAME      chdir DIR, then mkdir and chdir NAME twice, and
 *                                    writes and reads back a file "f" there (busybox's
 *                                    cd cannot: it passes the whole path, past PATH_MAX)
 *                                    prints what it read, or the failing step's errno
 *   load_helper soak DIR ID SECONDS  a worker: for SECONDS creates, writes, appends,
 *                                    renames, hard-links, truncates, fsyncs, reads back
 *                                    and deletes files in DIR/wID (made here), checking
 *                                    contents, sizes and link counts against its model
 *   load_helper journal DIR ID SECONDS
 *                                    writes files DIR/jID-N whose contents follow from
 *                                    their names, fsyncs each and DIR, then appends the
 *                                    name to DIR/journal-ID and fsyncs that
 *   load_helper verify DIR           checks every file named in DIR/journal-*
 *
 * soak, journal and verify print "ops N errors E" last (E lines before it say what
 * went wrong). Exit 0 when E is 0, 1 otherwise, 2 on bad usage. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char* ErrnoName(int err) {
  switch (err) {
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case ESTALE:
      return "ESTALE";
    case EIO:
      return "EIO";
    case ENOSPC:
      return "ENOSPC";
    case EINVAL:
      return "EINVAL";
    case ENXIO:
      return "ENXIO";
    case ENOTDIR:
      return "ENOTDIR";
    case ELOOP:
      return "ELOOP";
  }
  static char buf[32];
  snprintf(buf, sizeof(buf), "errno%d", err);
  return buf;
}

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state;
static uint32_t Rand(void) { /* xorshift64*: reproducible per worker */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static long ops, errors;
static void Fail(const char* what, const char* path, int err) {
  printf("error %s %s: %s\n", what, path, err ? ErrnoName(err) : "mismatch");
  errors++;
}

static int Seek(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return printf("open %s\n", ErrnoName(errno)), 1;
  off_t end = lseek(fd, 0, SEEK_END), pos = 0;
  while (pos < end) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) printf("SEEK_DATA %s\n", ErrnoName(errno));
      break;
    }
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return printf("SEEK_HOLE %s\n", ErrnoName(errno)), 1;
    if (data < pos || hole <= data) { /* a wrong answer must not loop forever */
      printf("no progress: SEEK_DATA %lld -> %lld, SEEK_HOLE -> %lld\n", (long long)pos,
             (long long)data, (long long)hole);
      break;
    }
    printf("data %lld %lld\n", (long long)data, (long long)hole);
    pos = hole;
  }
  printf("size %lld\n", (long long)end);
  close(fd);
  return 0;
}

static int ListPlus(const char* path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fprintf(stderr, "open: %s\n", ErrnoName(errno)), 1;
  static char buf[32768];
  long n;
  struct stat st;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
    for (long pos = 0; pos < n;) {
      const struct dirent64* d = (const struct dirent64*)(buf + pos);
      if (pos == 0 && strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
        fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW); /* a churned name may be gone */
      }
      puts(d->d_name);
      pos += d->d_reclen;
    }
  }
  if (n < 0) return fprintf(stderr, "getdents64: %s\n", ErrnoName(errno)), 1;
  close(fd);
  return 0;
}

static int Deeper(const char* dir, const char* name) {
  if (chdir(dir) != 0) return printf("chdir %s\n", ErrnoName(errno)), 0;
  for (int i = 0; i < 2; i++) {
    if (mkdir(name, 0755) != 0) return printf("mkdir %s\n", ErrnoName(errno)), 0;
    if (chdir(name) != 0) return printf("chdir %s\n", ErrnoName(errno)), 0;
  }
  int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
  if (fd < 0) return printf("create %s\n", ErrnoName(errno)), 0;
  char buf[16] = {0};
  if (write(fd, "deeper\n", 7) != 7 || pread(fd, buf, sizeof(buf) - 1, 0) != 7) {
    return printf("write+read %s\n", ErrnoName(errno)), 0;
  }
  close(fd);
  fputs(buf, stdout);
  return 0;
}

/* The soak worker's model: NSLOTS names, each empty or naming an inode. */
enum { NSLOTS = 8, NINODES = 2 * NSLOTS, MAXSIZE = 96 * 1024 };
struct Inode {
  unsigned char* data;
  size_t size;
  int links; /* 0: free */
};
static struct Inode inodes[NINODES];
static int slot_inode[NSLOTS];
static char dir[4096];

static void SlotPath(int slot, char* out) { sprintf(out, "%s/f%d", dir, slot); }
static int NewInode(void) {
  for (int i = 0; i < NINODES; i++) {
    if (inodes[i].links == 0) {
      inodes[i].size = 0;
      inodes[i].links = 1;
      return i;
    }
  }
  return -1; /* cannot happen: at most NSLOTS inodes are linked */
}
static void Unlinked(int slot) {
  if (slot_inode[slot] >= 0) inodes[slot_inode[slot]].links--;
  slot_inode[slot] = -1;
}
static void Fill(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)Rand();
}

/* Writes n random bytes at off (or appends) to slot's file and to the model. */
static void WriteSlot(int slot, size_t off, size_t n, int append) {
  char path[4200];
  SlotPath(slot, path);
  struct Inode* in = &inodes[slot_inode[slot]];
  if (append) off = in->size;
  if (off + n > MAXSIZE) return;
  unsigned char buf[16384];
  Fill(buf, n);
  int fd = open(path, append ? O_WRONLY | O_APPEND : O_WRONLY);
  if (fd < 0) return Fail("open-for-write", path, errno);
  ssize_t w = append ? write(fd, buf, n) : pwrite(fd, buf, n, (off_t)off);
  if (w != (ssize_t)n) Fail("write", path, w < 0 ? errno : EIO);
  close(fd);
  if (off > in->size) memset(in->data + in->size, 0, off - in->size);
  memcpy(in->data + off, buf, n);
  if (off + n > in->size) in->size = off + n;
}

static void CheckSlot(int slot) {
  char path[4200];
  SlotPath(slot, path);
  struct stat st;
  if (slot_inode[slot] < 0) {
    if (lstat(path, &st) == 0 || errno != ENOENT) Fail("absent", path, errno ? errno : EEXIST);
    return;
  }
  struct Inode* in = &inodes[slot_inode[slot]];
  if (lstat(path, &st) != 0) return Fail("stat", path, errno);
  if ((size_t)st.st_size != in->size)
    printf("# size %lld, model %zu\n", (long long)st.st_size, in->size), Fail("size", path, 0);
  if ((int)st.st_nlink != in->links)
    printf("# nlink %d, model %d\n", (int)st.st_nlink, in->links), Fail("nlink", path, 0);
  static unsigned char buf[MAXSIZE + 1];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return Fail("open-for-read", path, errno);
  size_t got = 0;
  ssize_t r;
  while ((r = read(fd, buf + got, sizeof(buf) - got)) > 0) got += (size_t)r;
  if (r < 0) Fail("read", path, errno);
  close(fd);
  if (got != in->size || memcmp(buf, in->data, got) != 0) Fail("contents", path, 0);
}

static void SyncPath(const char* path, int data_only) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return Fail("open-for-fsync", path, errno);
  if ((data_only ? fdatasync(fd) : fsync(fd)) != 0) Fail("fsync", path, errno);
  close(fd);
}

static int Soak(const char* base, int id, double seconds) {
  snprintf(dir, sizeof(dir), "%s/w%d", base, id);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return Fail("mkdir", dir, errno), 1;
  for (int i = 0; i < NINODES; i++) inodes[i].data = malloc(MAXSIZE);
  for (int s = 0; s < NSLOTS; s++) slot_inode[s] = -1;
  rng_state = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
  const double end = Now() + seconds;
  char path[4200], other[4200];
  while (Now() < end) {
    const int a = (int)(Rand() % NSLOTS), b = (int)(Rand() % NSLOTS);
    SlotPath(a, path);
    SlotPath(b, other);
    const unsigned op = Rand() % 10;
    ops++;
    if (slot_inode[a] < 0) { /* create */
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0) {
        Fail("create", path, errno);
        continue;
      }
      close(fd);
      slot_inode[a] = NewInode();
      WriteSlot(a, 0, Rand() % 16384, 0);
    } else if (op == 0) {
      WriteSlot(a, Rand() % MAXSIZE, 1 + Rand() % 8192, 0);
    } else if (op == 1) {
      WriteSlot(a, 0, 1 + Rand() % 4096, 1);
    } else if (op == 2 && a != b) { /* rename a over b */
      if (rename(path, other) != 0) {
        Fail("rename", path, errno);
        continue;
      }
      if (slot_inode[b] == slot_inode[a]) continue; /* onto its own hard link: no change */
      Unlinked(b);
      slot_inode[b] = slot_inode[a];
      slot_inode[a] = -1;
    } else if (op == 3 && slot_inode[b] < 0) { /* hard link */
      if (link(path, other) != 0) {
        Fail("link", path, errno);
        continue;
      }
      slot_inode[b] = slot_inode[a];
      inodes[slot_inode[a]].links++;
    } else if (op == 4) {
      const size_t size = Rand() % MAXSIZE;
      if (truncate(path, (off_t)size) != 0) {
        Fail("truncate", path, errno);
        continue;
      }
      struct Inode* in = &inodes[slot_inode[a]];
      if (size > in->size) memset(in->data + in->size, 0, size - in->size);
      in->size = size;
    } else if (op == 5) {
      SyncPath(path, Rand() % 2);
    } else if (op == 6) {
      if (unlink(path) != 0) {
        Fail("unlink", path, errno);
        continue;
      }
      Unlinked(a);
    } else {
      CheckSlot(a);
    }
  }
  for (int s = 0; s < NSLOTS; s++) CheckSlot(s);
  printf("ops %ld errors %ld\n", ops, errors);
  return errors != 0;
}

/* A journal file's contents follow from its name, so a later boot can check it alone. */
static size_t JournalContents(const char* name, unsigned char* buf) {
  uint64_t h = 1469598103934665603ULL;
  for (const char* p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  rng_state = h | 1;
  const size_t n = 1 + Rand() % 20000;
  Fill(buf, n);
  return n;
}

static int Journal(const char* base, int id, double seconds) {
  char journal[4200], path[4200], name[64];
  snprintf(journal, sizeof(journal), "%s/journal-%d", base, id);
  const double end = Now() + seconds;
  static unsigned char buf[20001];
  for (long n = 0; Now() < end; n++) {
    snprintf(name, sizeof(name), "j%d-%ld", id, n);
    snprintf(path, sizeof(path), "%s/%s", base, name);
    const size_t size = JournalContents(name, buf);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) return Fail("create", path, errno), 1;
    if (write(fd, buf, size) != (ssize_t)size || fsync(fd) != 0) Fail("write+fsync", path, errno);
    close(fd);
    SyncPath(base, 0);
    fd = open(journal, O_CREAT | O_APPEND | O_WRONLY, 0644);
    if (fd < 0) return Fail("journal", journal, errno), 1;
    char line[80];
    const int len = snprintf(line, sizeof(line), "%s\n", name);
    if (write(fd, line, len) != len || fsync(fd) != 0) Fail("journal write+fsync", journal, errno);
    close(fd);
    ops++;
  }
  printf("ops %ld errors %ld\n", ops, errors);
  return errors != 0;
}

static int Verify(const char* base) {
  DIR* d = opendir(base);
  if (d == NULL) return Fail("opendir", base, errno), 1;
  struct dirent* e;
  static unsigned char want[20001], got[20002];
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "journal-", 8) != 0) continue;
    char path[4200], name[256];
    snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
    FILE* f = fopen(path, "r");
    if (f == NULL) {
      Fail("open", path, errno);
      continue;
    }
    while (fgets(name, sizeof(name), f) != NULL) {
      name[strcspn(name, "\n")] = '\0';
      snprintf(path, sizeof(path), "%s/%s", base, name);
      const size_t size = JournalContents(name, want);
      int fd = open(path, O_RDONLY);
      ops++;
      if (fd < 0) {
        Fail("open", path, errno);
        continue;
      }
      size_t n = 0;
      ssize_t r;
      while ((r = read(fd, got + n, sizeof(got) - n)) > 0) n += (size_t)r;
      close(fd);
      if (n != size || memcmp(got, want, size) != 0) Fail("contents", path, 0);
    }
    fclose(f);
  }
  closedir(d);
  printf("ops %ld errors %ld\n", ops, errors);
  return errors != 0;
}

int main(int argc, char** argv) {
  /* Listings go to a file in the share: one write per line would be one FUSE request each. */
  setvbuf(stdout, NULL, argc > 1 && strncmp(argv[1], "list", 4) == 0 ? _IOFBF : _IOLBF, 1 << 16);
  if (argc == 3 && strcmp(argv[1], "seek") == 0) return Seek(argv[2]);
  if (argc == 3 && strcmp(argv[1], "list") == 0) {
    DIR* d = opendir(argv[2]);
    if (d == NULL) return fprintf(stderr, "opendir: %s\n", ErrnoName(errno)), 1;
    struct dirent* e;
    errno = 0;
    while ((e = readdir(d)) != NULL) puts(e->d_name);
    if (errno != 0) return fprintf(stderr, "readdir: %s\n", ErrnoName(errno)), 1;
    closedir(d);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "list-plus") == 0) return ListPlus(argv[2]);
  if (argc == 3 && strcmp(argv[1], "create") == 0) {
    int fd = open(argv[2], O_CREAT | O_EXCL | O_WRONLY, 0644);
    puts(fd >= 0 ? "ok" : ErrnoName(errno));
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "mkdir") == 0) {
    puts(mkdir(argv[2], 0755) == 0 ? "ok" : ErrnoName(errno));
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "deeper") == 0) return Deeper(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "soak") == 0) return Soak(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc == 5 && strcmp(argv[1], "journal") == 0) {
    return Journal(argv[2], atoi(argv[3]), atof(argv[4]));
  }
  if (argc == 3 && strcmp(argv[1], "verify") == 0) return Verify(argv[2]);
  fprintf(stderr, "usage: see load_helper.c\n");
  return 2;
}
