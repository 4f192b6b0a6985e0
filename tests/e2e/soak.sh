#!/bin/sh
# Guest side of soak_test (busybox sh, share at /mnt, see soak_test.cc): the host measures
# the daemon right after the mount, then several load_helper workers create, write, append,
# rename, hard-link, truncate, fsync, read back (checking every byte) and delete files in
# soak/ for the number of seconds the host names. After they stop, the guest drops its
# caches, prints its manifest of soak/ (everyday.sh's format) for the host to compare, drops
# its caches again and has the host measure the daemon once more.
host() { # host REQUEST: the host carries it out (guest_session.h); prints its answer
  n=$(($(cat /tmp/.host-n 2>/dev/null || echo 0) + 1)) && echo $n >/tmp/.host-n
  r=$(cat /proc/sys/kernel/random/boot_id)-$n-$RANDOM
  echo "$*" >.sync/req-$r.tmp && mv .sync/req-$r.tmp .sync/req-$r
  while ! [ -e .sync/ack-$r ]; do usleep 20000; done
  cat .sync/ack-$r
}
echo "# after mount: $(host @measure mounted)"
seconds=$(host @seconds)
workers=4
mkdir soak
for i in $(seq 1 $workers); do ./load_helper soak soak "$i" "$seconds" >/tmp/worker-$i 2>&1 & done
wait
for i in $(seq 1 $workers); do
  grep -v '^ops ' /tmp/worker-$i | head -n 20 | sed 's/^/# /'
  echo "CASE worker_$i $(grep '^ops ' /tmp/worker-$i | sed 's/^ops [0-9]* //')"
  echo "# worker $i: $(grep '^ops ' /tmp/worker-$i)"
done

sync
echo 3 >/proc/sys/vm/drop_caches
echo manifest-begin
( cd soak && find . -mindepth 1 | sort | while read -r p; do
  p=${p#./}
  if [ -d "$p" ]; then t=d; elif [ -f "$p" ]; then t=f; else t=o; fi
  size=$(stat -c %s "$p")
  sum=-
  case $t in
    d) size=- ;;
    f) sum=$(md5sum "$p" | cut -d' ' -f1) ;;
  esac
  echo "entry $p $t $(stat -c '%a %u %g' "$p") $size $(stat -c %h "$p") - $sum"
done ) 2>&1 | sed '/^entry /!s/^/# /'
echo manifest-end
echo 3 >/proc/sys/vm/drop_caches
echo "CASE footprint $(host @measure end)"
echo DONE
