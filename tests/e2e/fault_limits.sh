# Guest side of fault_limits_test (busybox sh; the share is the working directory,
# a 32 MiB tmpfs on the host; the daemon runs with --rlimit-nofile=256). Prints
# "CASE name result" lines and DONE.
say() { echo "CASE $1 $2"; }
# "ok" if "$@" succeeds, else its error message.
try() {
  name=$1
  shift
  if "$@" >/tmp/out 2>&1; then say "$name" ok; else say "$name" "$(head -c 200 /tmp/out | tr '\n' ' ')"; fi
}

# 1. A full share: ENOSPC, and the daemon serves on; deleting frees the space.
dd if=/dev/urandom of=/tmp/data bs=64k count=32 2>/dev/null
try before dd if=/tmp/data of=before.bin bs=64k conv=fsync
say before-md5 "$(md5sum </tmp/data | cut -d' ' -f1)"
if dd if=/dev/zero of=fill bs=64k conv=fsync 2>/tmp/fill.err; then
  say fill "no error"
elif grep -q "No space left on device" /tmp/fill.err; then
  say fill ENOSPC
else
  say fill "$(head -c 200 /tmp/fill.err | tr '\n' ' ')"
fi
if dd if=/tmp/data of=more bs=64k count=1 conv=fsync 2>/tmp/more.err; then
  say more "no error"
elif grep -q "No space left on device" /tmp/more.err; then
  say more ENOSPC
else
  say more "$(head -c 200 /tmp/more.err | tr '\n' ' ')"
fi
try ls-full ls -la
say reread "$(md5sum <before.bin | cut -d' ' -f1)"
try rm rm fill more
try after dd if=/tmp/data of=after.bin bs=64k conv=fsync
say after-md5 "$(md5sum <after.bin | cut -d' ' -f1)"

# 2. Walking a tree larger than the broker's descriptors (one per inode the guest
#    holds): the walk meets ENFILE/EMFILE ("Too many open files..."), nothing ends.
find tree -type f >/tmp/walk.out 2>/tmp/walk.err
if grep -q "Too many open files" /tmp/walk.err; then
  say walk EMFILE-or-ENFILE
else
  say walk "$(wc -l </tmp/walk.out) found; $(head -c 200 /tmp/walk.err | tr '\n' ' ')"
fi
# The guest lets go of those inodes (FORGET): a walk of a part of it works again.
sync
echo 2 >/proc/sys/vm/drop_caches
say walk-again "$(find tree/d1 -type f 2>&1 | wc -l)"

# 3. Holding files open until the daemon runs out, then closing them.
cp fault_open_many /tmp/ && chmod 0755 /tmp/fault_open_many
/tmp/fault_open_many tree/d2/f1 2000
try ls-after ls tree/d3
echo DONE
