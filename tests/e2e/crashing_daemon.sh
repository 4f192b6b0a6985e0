#!/usr/bin/env bash
# A daemon that crashes on cue, to prove run_guest.sh catches it: runs QEMU's C virtiofsd
# on DIR and kills it with SIGSEGV once the guest has created DIR/.crash-now.
# Usage: crashing_daemon.sh SOCKET DIR        (guest side: crash_trigger.sh)
set -euo pipefail
/usr/lib/qemu/virtiofsd --socket-path="$1" -o source="$2" &
pid=$!
while [ ! -e "$2/.crash-now" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
kill -SEGV "$pid"
wait "$pid"
