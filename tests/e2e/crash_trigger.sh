#!/bin/sh
# Guest side of crashing_daemon.sh: asks the daemon to crash, then keeps needing it (every
# open is a FUSE request). Only the harness stopping QEMU ends this: if it does not, the run
# hits run_guest.sh's --timeout and the test fails.
touch .crash-now
echo "crash requested"
while :; do
  echo "this write needs the daemon" >after-crash.txt
  sleep 0.2
done
