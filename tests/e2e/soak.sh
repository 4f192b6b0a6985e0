#!/bin/sh
# Guest side of soak_test (busybox sh, share at /mnt, run with --allow-reboot; see
# soak_test.cc). Boot 1: the host measures the daemon right after the mount, then several
# load_helper workers create, write, append, rename, hard-link, truncate, fsync, read back
# (checking every byte) and delete files in soak/ for the number of seconds the host names.
# After they stop, the guest drops its caches, prints its manifest of soak/ (everyday.sh's
# format) for the host to compare, drops its caches again and has the host measure the
# daemon once more. Boots 1 and 2 then put the share under load again (journal writers that
# fsync each file and then name it in an fsync'd journal, and soak workers) and reboot with
# `reboot -f` in the middle of it; boots 2 and 3 first check every file the journals name.
host() { # host REQUEST: the host carries it out (guest_session.h); prints its answer
  n=$(($(cat /tmp/.host-n 2>/dev/null || echo 0) + 1)) && echo $n >/tmp/.host-n
  r=$(cat /proc/sys/kernel/random/boot_id)-$n-$RANDOM
  echo "$*" >.sync/req-$r.tmp && mv .sync/req-$r.tmp .sync/req-$r
  while ! [ -e .sync/ack-$r ]; do usleep 20000; done
  cat .sync/ack-$r
}
boot=$(($(cat .boots 2>/dev/null || echo 0) + 1))
echo $boot >.boots
echo "# boot $boot"

if [ $boot = 1 ]; then
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
  (cd soak && find . -mindepth 1 | sort | while read -r p; do
    p=${p#./}
    if [ -d "$p" ]; then t=d; elif [ -f "$p" ]; then t=f; else t=o; fi
    size=$(stat -c %s "$p")
    sum=-
    case $t in
      d) size=- ;;
      f) sum=$(md5sum "$p" | cut -d' ' -f1) ;;
    esac
    echo "entry $p $t $(stat -c '%a %u %g' "$p") $size $(stat -c %h "$p") - $sum"
  done) 2>&1 | sed '/^entry /!s/^/# /'
  echo manifest-end
  echo 3 >/proc/sys/vm/drop_caches
  echo "CASE footprint $(host @measure end)"
fi

if [ $boot -gt 1 ]; then
  ./load_helper verify journal >/tmp/verify 2>&1
  sed 's/^/# /' /tmp/verify | head -n 20
  echo "CASE verify_boot_$boot $(tail -n 1 /tmp/verify | sed 's/^ops \([0-9]*\) errors /\1 files, errors /')"
fi
if [ $boot -lt 3 ]; then
  mkdir -p journal load-$boot
  for i in 1 2; do ./load_helper journal journal $((boot * 10 + i)) 600 >/dev/null 2>&1 & done
  for i in 1 2; do ./load_helper soak load-$boot $i 600 >/dev/null 2>&1 & done
  sleep 5
  reboot -f
  sleep 60
  echo "the guest did not reboot"
  exit 1
fi
echo DONE
