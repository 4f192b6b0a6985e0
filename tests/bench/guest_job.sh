#!/bin/sh
# The in-guest half of tools/bench.sh, run by tools/guest/run_guest.sh in the mounted share
# (busybox sh, cwd /mnt). The host put job.env (IDLE_SECONDS, FILES) and tree.tar.gz (FILES
# small files) in the share. Stays idle for IDLE_SECONDS between the markers the host
# samples the daemon at, then times a metadata job, each phase on a cold cache:
# unpack the tree (and sync), list it with every file's attributes (busybox find has no
# -ls: `ls -lnR` does the same readdir + lstat of every name), remove it.
# Prints "BENCH <phase> <seconds>" lines (guest uptime, 10 ms steps).
set -eu
# shellcheck disable=SC1091 # written by tools/bench.sh
. ./job.env
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.2f\n", b - a }'; }
cold() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  sleep 1 # the FORGETs that dropping the inodes sends go out before the next phase
}

cp tree.tar.gz /tmp/tree.tar.gz
echo "BENCH idle-start"
sleep "$IDLE_SECONDS"
echo "BENCH idle-end"
sleep 2 # the host reads the daemon's memory now

rm -rf job
mkdir job
cold
t=$(up)
tar xzf /tmp/tree.tar.gz -C job
sync
echo "BENCH untar $(since "$t")"

cold
t=$(up)
# shellcheck disable=SC2010 # listing with attributes is the workload
names=$(ls -lnR job | grep -c '^-')
echo "BENCH ls-lR $(since "$t")"
[ "$names" = "$FILES" ] || {
  echo "listed $names files, expected $FILES"
  exit 1
}

cold
t=$(up)
rm -rf job
echo "BENCH rm-rf $(since "$t")"
[ ! -e job ]
