#!/usr/bin/env bash
# Boots the test guest (tools/guest/prepare.sh) against a virtio-fs daemon and runs one script in it.
#   run_guest.sh --daemon 'CMD with {socket} and {dir}' --shared-dir DIR --script FILE
#                [--timeout SECONDS] [--log DIR] [--guest-dir DIR] [--allow-reboot]
#                [--num-request-queues N]
# Starts the daemon (in its own process group), waits for its socket, boots QEMU (TCG) whose
# guest mounts the share at /mnt and runs FILE there with busybox sh, then stops everything.
# Prints the script's output on stdout and a summary on stderr. Exits 0 only if the script
# exited 0 and the daemon did not crash (it may exit 0 on its own or end on our SIGTERM).
# --log DIR keeps daemon.log, console.log (kernel + markers), guest.out; default: a temp dir.
# --allow-reboot lets the guest reboot (QEMU resets the device; the daemon serves the next boot).
# --num-request-queues N: the vhost-user-fs-pci device's num-request-queues (QEMU's default: 1).
# The guest kernel comes from --guest-dir, else $VIRTIOFSD_GUEST_DIR, else /var/cache/virtiofsd-guest.
set -euo pipefail
usage() {
  sed -n '2,5p' "$0" >&2
  exit 2
}

daemon='' share='' script='' timeout_s=300 logdir='' reboot_flag=-no-reboot queues=1
guest_dir=${VIRTIOFSD_GUEST_DIR:-/var/cache/virtiofsd-guest}
while [ $# -gt 0 ]; do
  case "$1" in
    --daemon) daemon=$2 ;;
    --shared-dir) share=$2 ;;
    --script) script=$2 ;;
    --timeout) timeout_s=$2 ;;
    --log) logdir=$2 ;;
    --guest-dir) guest_dir=$2 ;;
    --num-request-queues) queues=$2 ;;
    --allow-reboot) reboot_flag=''; shift; continue ;;
    *) usage ;;
  esac
  shift 2
done
if [ -z "$daemon" ] || ! [ -d "$share" ] || ! [ -f "$script" ]; then usage; fi
log() { echo "run_guest: $*" >&2; }
for f in vmlinuz initramfs.cpio.gz; do
  [ -f "$guest_dir/$f" ] || {
    log "missing $guest_dir/$f: run tools/guest/prepare.sh"
    exit 1
  }
done

work=$(mktemp -d /tmp/run_guest.XXXXXX)
[ -n "$logdir" ] || logdir=$work
mkdir -p "$logdir"
daemon_pid='' qemu_pid=''
cleanup() {
  [ -z "$qemu_pid" ] || kill -TERM "$qemu_pid" 2>/dev/null || true
  # The daemon runs in its own process group (setsid): end all of it, then our temp files.
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM -- "-$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
start=$(now)

# 1. The daemon, with {socket} and {dir} replaced by shell-quoted paths.
sock="$work/vfsd.sock"
cmd=${daemon//\{socket\}/$(printf %q "$sock")}
cmd=${cmd//\{dir\}/$(printf %q "$(cd "$share" && pwd)")}
log "daemon: $cmd"
setsid bash -c "exec $cmd" >"$logdir/daemon.log" 2>&1 </dev/null &
daemon_pid=$!
# Poll for the socket while the daemon lives (it may take a moment to set up its sandbox).
for _ in $(seq 1 300); do
  [ -S "$sock" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if ! [ -S "$sock" ]; then
  log "the daemon made no socket at $sock; its log:"
  cat "$logdir/daemon.log" >&2
  exit 1
fi

# 2. The initramfs plus a second cpio holding the script as /test.sh (the kernel unpacks
#    concatenated archives in order).
mkdir -p "$work/extra"
cp "$script" "$work/extra/test.sh"
cp "$guest_dir/initramfs.cpio.gz" "$work/initrd"
(cd "$work/extra" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip >>"$work/initrd"

# 3. QEMU under TCG (/dev/kvm here is a nested device stock kernels die in). Shared guest memory
#    (memfd, share=on) is what lets the daemon map the virtqueues. ttyS0: console; ttyS1: script.
: >"$logdir/console.log"
: >"$logdir/guest.out"
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1G \
  -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
  -chardev socket,id=char0,path="$sock" \
  -device vhost-user-fs-pci,queue-size=1024,chardev=char0,tag=e2e,num-request-queues="$queues" \
  -kernel "$guest_dir/vmlinuz" -initrd "$work/initrd" \
  -append 'console=ttyS0 quiet loglevel=1 panic=-1' \
  -display none -monitor none $reboot_flag -nodefaults \
  -serial "file:$logdir/console.log" -serial "file:$logdir/guest.out" \
  </dev/null >"$logdir/qemu.log" 2>&1 &
qemu_pid=$!

# 4. Normally the guest powers off, QEMU hangs up and exits, and the daemon then leaves. A
#    daemon that leaves while QEMU keeps running has failed (the guest would wait for it
#    forever): stop QEMU then, rather than at the timeout.
qemu_rc='' daemon_rc='' rc=0 first='' daemon_left=0
wait -n -p first "$qemu_pid" "$daemon_pid" || rc=$?
if [ "$first" = "$daemon_pid" ]; then
  daemon_rc=$rc
  daemon_pid=
  for _ in $(seq 1 50); do # QEMU hangs up a moment before it exits
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$qemu_pid" 2>/dev/null; then
    daemon_left=1
    log "the daemon exited ($daemon_rc) while the guest was running: stopping QEMU"
    kill -TERM "$qemu_pid" 2>/dev/null || true
  fi
  qemu_rc=0
  wait "$qemu_pid" || qemu_rc=$?
else
  qemu_rc=$rc
fi
qemu_pid=
end=$(now)
stopped_by_us=0
if [ -n "$daemon_pid" ]; then
  for _ in $(seq 1 50); do # give it 5 s to notice the hangup, then ask it to go
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    stopped_by_us=1
    kill -TERM -- "-$daemon_pid" 2>/dev/null || true
  fi
  daemon_rc=0
  wait "$daemon_pid" || daemon_rc=$?
  daemon_pid=
fi

# 5. Verdict.
tr -d '\r' <"$logdir/guest.out"
tr -d '\r' <"$logdir/console.log" >"$work/console"
mounted=$(sed -n 's/^VIRTIOFSD-GUEST: mounted \([0-9.]*\).*/\1/p' "$work/console")
guest_rc=$(sed -n 's/^VIRTIOFSD-GUEST: exit=\([0-9]*\).*/\1/p' "$work/console")
log "qemu exit $qemu_rc, guest script exit ${guest_rc:-none}, daemon exit $daemon_rc" \
  "$([ $stopped_by_us = 1 ] && echo '(after our SIGTERM)')"
log "timings: boot-to-mount ${mounted:-?} s (guest uptime), wall $(awk "BEGIN {printf \"%.1f\", $end - $start}") s"
ok=1
if [ $daemon_left = 1 ]; then
  ok=0
  log "the daemon left before the guest was done"
elif [ "$qemu_rc" != 0 ]; then
  ok=0
  log "QEMU failed ($([ "$qemu_rc" = 124 ] && echo "timed out after $timeout_s s" || echo "exit $qemu_rc")); $(cat "$logdir/qemu.log")"
fi
[ "$guest_rc" = 0 ] || ok=0
if [ "$daemon_rc" != 0 ] && ! { [ $stopped_by_us = 1 ] && [ "$daemon_rc" = 143 ]; }; then
  ok=0
  log "the daemon crashed or failed (exit $daemon_rc)"
fi
if [ $ok = 0 ]; then
  log "console (tail):"
  tail -n 30 "$work/console" >&2
  log "daemon log (tail):"
  tail -n 30 "$logdir/daemon.log" >&2
  exit 1
fi
