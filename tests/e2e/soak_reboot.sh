#!/bin/sh
# Guest side of soak_test's reboot case (busybox sh, share at /mnt, run with --allow-reboot;
# see soak_test.cc). Boots 1 and 2 put the share under load (journal writers that fsync each
# file and then name it in an fsync'd journal, and soak workers) and reboot with `reboot -f`
# in the middle of it; boots 2 and 3 first check every file the journals name.
boot=$(($(cat boots 2>/dev/null || echo 0) + 1))
echo $boot >boots
echo "# boot $boot"
if [ $boot -gt 1 ]; then
  ./load_helper verify . >/tmp/verify 2>&1
  sed 's/^/# /' /tmp/verify | head -n 20
  echo "CASE verify_boot_$boot $(tail -n 1 /tmp/verify | sed 's/^ops \([0-9]*\) errors /\1 files, errors /')"
fi
if [ $boot -lt 3 ]; then
  mkdir -p soak-$boot
  for i in 1 2; do ./load_helper journal . $((boot * 10 + i)) 600 >/dev/null 2>&1 & done
  for i in 1 2; do ./load_helper soak soak-$boot $i 600 >/dev/null 2>&1 & done
  sleep 8
  echo "CASE rebooting_$boot $(cat journal-* | wc -l)"
  reboot -f
  sleep 60
  echo "the guest did not reboot"
  exit 1
fi
echo DONE
