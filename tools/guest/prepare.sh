#!/usr/bin/env bash
# Prepares the test guest for tools/guest/run_guest.sh: Debian's 6.1 kernel and a busybox
# initramfs that loads the virtio-fs modules, mounts the share (tag "e2e") at /mnt, runs
# /test.sh (appended to the initramfs by run_guest.sh) and powers off.
# Idempotent: a second run with nothing changed only checks and prints (~1 s). Needs root
# (apt-get) the first time; tests never call it (they must not need the network).
# Usage: tools/guest/prepare.sh     outputs in $VIRTIOFSD_GUEST_DIR (/var/cache/virtiofsd-guest):
#   vmlinuz, initramfs.cpio.gz, kernel-release; deb/ holds the downloaded kernel package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${VIRTIOFSD_GUEST_DIR:-/var/cache/virtiofsd-guest}
log() { echo "prepare: $*" >&2; }

# Modules the guest loads, in dependency order (checked against each .ko's depends= below).
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtiofs)

# 1. Host packages: QEMU 7.2 (with QEMU's C virtiofsd), static busybox, a C compiler for
#    the xattr helper.
packages=(qemu-system-x86 busybox-static gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The kernel package that linux-image-amd64 currently names (e.g. linux-image-6.1.0-56-amd64).
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
  apt-get update -qq || true
  pkg=$(kernel_pkg)
fi
if [ -z "$pkg" ] && [ -f "$dir/kernel-package" ]; then
  pkg=$(cat "$dir/kernel-package")   # offline: keep what we have
  log "apt-cache knows no linux-image-amd64; keeping $pkg"
fi
[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64 (apt-get update failed?)"; exit 1; }

# Everything below is rebuilt only when one of its inputs changed.
stamp=$(cat "$0" "$here/xattr.c" "$here/init.sh" /bin/busybox | sha256sum | cut -c1-16)-$pkg
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp" ] &&
  [ -f "$dir/vmlinuz" ] && [ -f "$dir/initramfs.cpio.gz" ]; then
  log "up to date: $dir (kernel $(cat "$dir/kernel-release"))"
  echo "$dir"
  exit 0
fi

mkdir -p "$dir/deb"
if ! ls "$dir/deb/${pkg}_"*.deb >/dev/null 2>&1; then
  log "downloading $pkg"
  rm -f "$dir/deb/"*.deb
  # apt downloads as its sandbox user _apt: give it a dir it may write, then move the file.
  tmp_dl=$(mktemp -d)
  chown _apt "$tmp_dl" 2>/dev/null || chmod 777 "$tmp_dl"
  (cd "$tmp_dl" && apt-get download -qq "$pkg")
  mv "$tmp_dl"/*.deb "$dir/deb/"
  rmdir "$tmp_dl"
fi
deb=$(ls "$dir/deb/${pkg}_"*.deb)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "extracting $deb"
dpkg-deb --fsys-tarfile "$deb" |
  tar -x -C "$work" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio/*' \
    './lib/modules/*/kernel/fs/fuse/*'
release=$(basename "$(ls -d "$work"/lib/modules/*)")
kdir="$work/lib/modules/$release/kernel"

# 3. The initramfs tree: busybox, the modules (flat, with their load order), /init, xattr.
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
loaded=" "
for m in "${modules[@]}"; do
  ko=$(find "$kdir" -name "$m.ko" | head -n1)
  [ -n "$ko" ] || { log "module $m.ko not in $pkg"; exit 1; }
  # Each module's dependencies (from its .modinfo section) must already be loaded.
  deps=$(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | tr ',' ' ')
  for d in $deps; do
    case "$loaded" in *" $d "*) ;; *) log "$m needs $d, which is not loaded before it"; exit 1 ;; esac
  done
  loaded="$loaded$m "
  cp "$ko" "$root/lib/modules/"
  echo "$m" >>"$root/lib/modules/order"
done
cc -static -Os -Wall -o "$root/bin/xattr" "$here/xattr.c"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$work/initramfs.cpio.gz"

# 4. Publish atomically enough for our use: files first, stamp last.
cp "$work/boot/vmlinuz-$release" "$dir/vmlinuz"
mv "$work/initramfs.cpio.gz" "$dir/initramfs.cpio.gz"
echo "$release" >"$dir/kernel-release"
echo "$pkg" >"$dir/kernel-package"
echo "$stamp" >"$dir/stamp"
log "ready: $dir/vmlinuz ($release), $dir/initramfs.cpio.gz ($(du -h "$dir/initramfs.cpio.gz" | cut -f1))"
echo "$dir"
