#!/usr/bin/env bash
# The AppArmor profiles enforced in a real kernel: boots the test guest's Debian
# kernel (tools/guest/prepare.sh) with `apparmor=1 security=apparmor` and an
# initramfs holding busybox, apparmor_parser, the three executables in
# /usr/libexec, the profiles and a vhost-user-fs client (probe_client, the test
# driver); the guest loads the profiles in enforce mode, runs the daemon and the
# client against it (each process can do its job under its profile: from
# /usr/libexec in namespace mode, then from /opt/kata/libexec with Kata's socket
# and share directories in chroot mode) and shows
# that each profile denies what its process must never do (guest.sh lists them).
# CPU-heavy (one TCG boot): tagged manual.
set -euo pipefail
runfiles=${TEST_SRCDIR:-$(dirname "$0")/../..}/${TEST_WORKSPACE:-virtiofsd}
guest_dir=${VIRTIOFSD_GUEST_DIR:-/var/cache/virtiofsd-guest}
fail() {
  echo "apparmor_guest_test: FAIL: $*" >&2
  exit 1
}
[ -f "$guest_dir/vmlinuz" ] || fail "no $guest_dir/vmlinuz: run tools/guest/prepare.sh"
parser=$(command -v apparmor_parser) || fail "apparmor_parser is missing (apt-get install apparmor)"
work=$(mktemp -d /tmp/apparmor_guest.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,usr/libexec,srv}

# Executables with the libraries ldd names (and the dynamic loader).
with_libs() { # SRC DEST
  install -D -m 0755 "$1" "$root$2"
  ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}
cp /bin/busybox "$root/bin/busybox"
with_libs "$parser" /sbin/apparmor_parser
for e in launcher/virtiofsd frontend/virtiofsd-frontend broker/virtiofsd-broker; do
  with_libs "$runfiles/$e" "/usr/libexec/$(basename "$e")"
done
with_libs "$runfiles/tools/packaging/apparmor_probe_client" /bin/probe_client
# The parser's includes, and our profiles as installed.
mkdir -p "$root/etc/apparmor.d" "$root/etc/apparmor"
cp -rL /etc/apparmor.d/abi /etc/apparmor.d/tunables /etc/apparmor.d/abstractions \
  "$root/etc/apparmor.d/"
[ ! -f /etc/apparmor/parser.conf ] || cp /etc/apparmor/parser.conf "$root/etc/apparmor/"
if [ -d /usr/share/apparmor-features ]; then # parser.conf may pin a feature set
  mkdir -p "$root/usr/share"
  cp -rL /usr/share/apparmor-features "$root/usr/share/"
fi
cp "$runfiles"/tools/packaging/apparmor/usr.libexec.* "$root/etc/apparmor.d/"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
cp "$runfiles/tools/packaging/apparmor_guest/guest.sh" "$root/test.sh"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# pivot_root (the broker's and the frontend's sandboxes) does not work on the
# initramfs itself: move to a tmpfs root first.
if [ ! -e /.on-tmpfs ]; then
  /bin/busybox mkdir /newroot
  /bin/busybox mount -t tmpfs -o size=512m tmpfs /newroot
  for d in /*; do
    case "$d" in /newroot | /dev | /proc | /sys) continue ;; esac
    /bin/busybox cp -a "$d" /newroot/
  done
  /bin/busybox mkdir -p /newroot/dev /newroot/proc /newroot/sys
  /bin/busybox touch /newroot/.on-tmpfs
  exec /bin/busybox switch_root /newroot /init
fi
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t securityfs securityfs /sys/kernel/security
echo 1 >/proc/sys/kernel/printk
sh /test.sh >/dev/ttyS1 2>&1
sync
poweroff -f
INIT
chmod 0755 "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip >"$work/initrd"

: >"$work/out"
timeout --kill-after=10 600 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1G \
  -kernel "$guest_dir/vmlinuz" -initrd "$work/initrd" \
  -append 'console=ttyS0 quiet loglevel=1 panic=-1 apparmor=1 security=apparmor audit=1' \
  -display none -monitor none -no-reboot -nodefaults \
  -serial "file:$work/console" -serial "file:$work/out" </dev/null >"$work/qemu.log" 2>&1 ||
  fail "QEMU: $(cat "$work/qemu.log")"
tr -d '\r' <"$work/out" >"$work/result"
cat "$work/result"
grep -q GUEST-DONE "$work/result" || fail "the guest did not finish (console: $(tail -5 "$work/console"))"
if grep -q '^CHECK .* FAIL' "$work/result"; then
  fail "$(grep '^CHECK .* FAIL' "$work/result")"
fi
[ "$(grep -c '^CHECK .* ok$' "$work/result")" -eq 22 ] || fail "fewer checks than expected"
echo "apparmor_guest_test: PASS"
