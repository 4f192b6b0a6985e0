#!/bin/sh
# Everyday file work inside the test guest (busybox sh), run in the freshly mounted, empty
# virtio-fs share by tools/guest/run_guest.sh. Each step prints "ok - WHAT" or "not ok - WHAT"
# (with "# ..." details); the script exits 1 if any step failed. Then, after dropping the
# guest's caches, it prints the guest's view of the share between "manifest-begin" and
# "manifest-end", one line per entry, for the host to compare with its own (guest_test.cc):
#   entry PATH TYPE(f|d|l|p) MODE(octal) UID GID SIZE(- for dirs) NLINK TARGET(-) MD5(-)
#   xattr PATH NAME VALUE          (user.* attributes only)
# Keep in step with tests/e2e/guest_test.cc, which checks the expected end state too.
failed=0
check() { # check WHAT CMD...: runs CMD, reports
  what=$1
  shift
  if "$@"; then echo "ok - $what"; else
    echo "not ok - $what"
    failed=$((failed + 1))
  fi
}
eq() { # eq ACTUAL EXPECTED
  [ "$1" = "$2" ] && return 0
  echo "# expected '$2', got '$1'"
  return 1
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
t0=$(uptime_s)

# Create, write, append, read, overwrite in the middle, truncate.
check "create" sh -c 'echo hello >hello.txt'
check "append" sh -c 'echo world >>hello.txt'
check "read back" eq "$(cat hello.txt)" "$(printf 'hello\nworld')"
check "write in the middle" sh -c 'printf XY | dd of=hello.txt bs=1 seek=2 conv=notrunc 2>/dev/null'
check "read after overwrite" eq "$(cat hello.txt)" "$(printf 'heXYo\nworld')"
check "create for truncate" sh -c 'echo 0123456789 >short.txt'
check "truncate (shrink)" truncate -s 4 short.txt
check "shrunk size" eq "$(stat -c %s short.txt)" 4
check "shrunk content" eq "$(cat short.txt)" 0123
check "truncate (grow, sparse)" truncate -s 100000 sparse.bin
check "grown size" eq "$(stat -c %s sparse.bin)" 100000
check "write past EOF" sh -c 'printf end | dd of=sparse.bin bs=1 seek=200000 conv=notrunc 2>/dev/null'
check "size after write past EOF" eq "$(stat -c %s sparse.bin)" 200003
check "hole reads as zeros" eq "$(dd if=sparse.bin bs=1 skip=150000 count=4 2>/dev/null | od -An -tx1 | tr -d ' ')" 00000000

# Directories, readdir of many entries, rename (in a dir, across dirs, over a file, a dir), unlink.
check "mkdir -p" mkdir -p docs/drafts/old
check "rmdir" rmdir docs/drafts/old
check "rmdir is gone" eq "$(ls docs/drafts)" ""
check "many files" sh -c 'mkdir many && i=0 && while [ $i -lt 300 ]; do echo $i >many/file-$i; i=$((i + 1)); done'
check "readdir sees all" eq "$(ls many | wc -l)" 300
check "readdir -a sees . and .." eq "$(ls -a many | wc -l)" 302
check "create to rename" sh -c 'echo draft >docs/drafts/plan.txt'
check "rename in a dir" mv docs/drafts/plan.txt docs/drafts/plan-v2.txt
check "rename across dirs" mv docs/drafts/plan-v2.txt docs/plan.txt
check "old name gone" eq "$(ls docs/drafts)" ""
check "create to be replaced" sh -c 'echo old >docs/target.txt && echo new >docs/source.txt'
check "rename over a file" mv -f docs/source.txt docs/target.txt
check "replaced content" eq "$(cat docs/target.txt)" new
check "rename a dir" mv docs/drafts docs/archive
check "unlink" sh -c 'echo bye >gone.txt && rm gone.txt'
check "unlinked is gone" eq "$(ls gone.txt 2>/dev/null)" ""

# Hard links, symlinks (one dangling), a FIFO.
check "hard link" ln hello.txt hello-link.txt
check "link count" eq "$(stat -c %h hello.txt)" 2
check "same inode" eq "$(stat -c %i hello-link.txt)" "$(stat -c %i hello.txt)"
check "symlink" ln -s hello.txt hello-sym
check "readlink" eq "$(readlink hello-sym)" hello.txt
check "read through symlink" eq "$(cat hello-sym)" "$(cat hello.txt)"
check "dangling symlink" ln -s ../no/such/file docs/dangling
check "dir symlink" ln -s docs/archive archive-link
check "mkfifo" mkfifo pipe

# Permissions and owners (the guest runs as root; the share keeps what it is told).
check "chmod 0640" chmod 0640 hello.txt
check "mode 0640" eq "$(stat -c %a hello.txt)" 640
check "chmod 0751 dir" chmod 0751 docs
check "chmod 1777 dir" sh -c 'mkdir sticky && chmod 1777 sticky'
check "mode 1777" eq "$(stat -c %a sticky)" 1777
check "chmod 4755" sh -c 'echo "#!/bin/sh" >setuid.sh && chmod 4755 setuid.sh'
check "chown 1000:1000" chown 1000:1000 docs/plan.txt
check "owner" eq "$(stat -c %u:%g docs/plan.txt)" 1000:1000
check "chown 1234:5678 on a dir" chown 1234:5678 docs/archive
check "chgrp 42" chgrp 42 short.txt
check "chown a symlink itself" chown -h 77:88 hello-sym
check "symlink owner" eq "$(stat -c %u:%g hello-sym)" 77:88

# Extended attributes (user.*), with the static helper the initramfs carries.
if command -v xattr >/dev/null; then
  check "setxattr" xattr set hello.txt user.color blue
  check "setxattr 2" xattr set hello.txt user.answer 42
  check "getxattr" eq "$(xattr get hello.txt user.color)" blue
  check "listxattr" eq "$(xattr list hello.txt | grep '^user\.' | sort | tr '\n' ' ')" "user.answer user.color "
  check "removexattr" xattr rm hello.txt user.answer
  check "removed" eq "$(xattr list hello.txt | grep -c '^user\.answer')" 0
  check "setxattr on a dir" xattr set docs user.kind folder
  check "getxattr of missing fails" sh -c '! xattr get short.txt user.none 2>/dev/null'
else
  echo "# no xattr helper in this guest: xattr steps skipped"
fi

# 64 MiB of random data through the daemon, then read back after dropping the guest's caches.
t1=$(uptime_s)
check "write 64 MiB" sh -c 'dd if=/dev/urandom of=big.bin bs=1M count=64 2>/dev/null'
sync
t2=$(uptime_s)
check "size 64 MiB" eq "$(stat -c %s big.bin)" 67108864
sum1=$(md5sum big.bin | cut -d' ' -f1)
sync
echo 3 >/proc/sys/vm/drop_caches
t3=$(uptime_s)
sum2=$(md5sum big.bin | cut -d' ' -f1)
t4=$(uptime_s)
check "md5 after reread" eq "$sum2" "$sum1"
check "copy" cp big.bin docs/big-copy.bin
check "copy md5" eq "$(md5sum docs/big-copy.bin | cut -d' ' -f1)" "$sum1"
check "remove copy" rm docs/big-copy.bin
echo "# 64 MiB: write+sync $(awk "BEGIN {print $t2 - $t1}") s, cold md5 $(awk "BEGIN {print $t4 - $t3}") s (guest clock, TCG)"

echo "# ls -lR"
ls -lR . | sed 's/^/#   /' | head -n 80

# The manifest, from a cold cache so every attribute comes from the daemon. Any stray
# output (an error message) becomes a "# " comment line.
sync
echo 3 >/proc/sys/vm/drop_caches
echo manifest-begin
{ find . -mindepth 1 | sort | while read -r p; do
  p=${p#./}
  if [ -L "$p" ]; then t=l; elif [ -d "$p" ]; then t=d; elif [ -p "$p" ]; then t=p; elif [ -f "$p" ]; then t=f; else t=o; fi
  size=$(stat -c %s "$p")
  target=-
  sum=-
  case $t in
    d) size=- ;;
    l) target=$(readlink "$p") ;;
    f) sum=$(md5sum "$p" | cut -d' ' -f1) ;;
  esac
  echo "entry $p $t $(stat -c '%a %u %g' "$p") $size $(stat -c %h "$p") $target $sum"
  if command -v xattr >/dev/null && [ $t != l ]; then
    for name in $(xattr list "$p" | grep '^user\.' | sort); do
      echo "xattr $p $name $(xattr get "$p" "$name")"
    done
  fi
done; } 2>&1 | sed '/^entry \|^xattr /!s/^/# /'
echo manifest-end
echo "# everyday.sh: $failed failed, $(awk "BEGIN {print $(uptime_s) - $t0}") s"
[ $failed = 0 ]
