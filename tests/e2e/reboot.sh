# Guest side of RunGuestTest.GuestRebootIsServed (busybox sh, share at /mnt): the first
# boot leaves a marker and reboots at once; the second finds it through the same daemon.
if [ -f /mnt/.booted ]; then
  test "$(cat /mnt/.booted)" = "first boot"
  rm /mnt/.booted
  echo "second boot" > /mnt/second
  test "$(cat /mnt/second)" = "second boot"
  echo REBOOT-OK
else
  echo "first boot" > /mnt/.booted
  sync
  reboot -f
  sleep 60
  echo "the guest did not reboot"
  exit 1
fi
