#!/bin/sh
# PID 1 of the test guest (installed as /init by tools/guest/prepare.sh).
# Loads the virtio-fs modules, mounts the share tagged "e2e" at /mnt, runs /test.sh (appended
# by tools/guest/run_guest.sh) in /mnt with its stdout+stderr on the second serial port
# (ttyS1), and powers off. Markers on the console (ttyS0), one a line:
#   VIRTIOFSD-GUEST: mounted UPTIME      the share is mounted (UPTIME: seconds since boot)
#   VIRTIOFSD-GUEST: exit=N UPTIME       the script ended with status N
#   VIRTIOFSD-GUEST: error WHAT          setup failed; the script did not run
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo 1 >/proc/sys/kernel/printk # keep kernel messages off the console
mark() { echo "VIRTIOFSD-GUEST: $* $(cut -d' ' -f1 /proc/uptime)"; }
die() {
  mark "error $*"
  poweroff -f
}

for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || die "insmod $m"
done
mount -t virtiofs e2e /mnt || die "mount -t virtiofs e2e /mnt"
mark mounted

out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
if [ -f /test.sh ]; then
  (cd /mnt && sh /test.sh) >"$out" 2>&1
  rc=$?
else
  echo "no /test.sh: listing the share" >"$out"
  ls -la /mnt >"$out" 2>&1
  rc=$?
fi
sync
umount /mnt || mark "umount failed"
mark "exit=$rc"
poweroff -f
