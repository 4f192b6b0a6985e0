#!/bin/sh
# The guest half of tools/run.sh (busybox sh, run in the mounted share): show what the host
# shared, write a file back, and show the mount.
set -e
echo "guest: kernel $(uname -r), share mounted at /mnt:"
grep ' /mnt ' /proc/mounts
ls -la /mnt
msg=$(cat hello-from-host.txt) # its own line, so set -e sees a failure
echo "guest: hello-from-host.txt says: $msg"
echo "written by the guest (kernel $(uname -r)) at uptime $(cut -d' ' -f1 /proc/uptime) s" >from-guest.txt
mkdir -p guest-dir
echo "guest: wrote from-guest.txt and guest-dir/"
df -h /mnt
