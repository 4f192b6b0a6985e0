# Guest side of fault_qemu_killed_test (busybox sh; the share is the working
# directory): keeps the daemon busy writing, fsyncing, reading and listing, then
# asks the host to kill QEMU (.kill-qemu) and carries on until it does.
dd if=/dev/urandom of=/tmp/data bs=64k count=16 2>/dev/null
(while :; do dd if=/tmp/data of=busy bs=64k conv=fsync 2>/dev/null; done) &
(while :; do
  cat busy >/dev/null 2>&1
  ls -la >/dev/null
done) &
sleep 1
touch .kill-qemu
echo "kill requested"
sleep 120
echo "CASE qemu still-running"
