#!/usr/bin/env bash
# Builds the Debian package of virtiofsd from tools/install.sh's layout (PREFIX=/usr):
# the launcher and its two children in /usr/libexec, the man page, the systemd unit,
# the vhost-user JSON (40-virtiofsd.json, which libvirt picks before QEMU's
# 50-qemu-virtiofsd.json), the AppArmor profiles (conffiles, loaded at install when
# AppArmor is on) and the SELinux modules (shipped, not loaded).
#
# Usage: tools/package-deb.sh [--no-build] [OUTDIR]
#   --no-build  package what `bazel build -c opt` already built
#   OUTDIR      where the .deb goes (default: the current directory); its path is
#               the last line printed
# Needs dpkg-dev (dpkg-shlibdeps computes Depends from the executables' libraries).
#
# The package is named virtiofsd-privsep; it replaces Debian's own `virtiofsd`
# package (the same /usr/libexec/virtiofsd), which it conflicts with.
set -euo pipefail
cd "$(dirname "$0")/.."

install_args=() outdir=$PWD
for arg in "$@"; do
  case "$arg" in
    --no-build) install_args+=(--no-build) ;;
    -*) echo "package-deb: unknown option '$arg'" >&2; exit 2 ;;
    *) outdir=$(realpath "$arg") ;;
  esac
done
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null ||
    { echo "package-deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
DESTDIR=$root PREFIX=/usr SYSCONFDIR=/etc tools/install.sh "${install_args[@]}"

readonly package=virtiofsd-privsep
version=$("$root/usr/libexec/virtiofsd" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)

# Depends from the libraries the three executables link (as debhelper would).
mkdir -p "$work/shlibs/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" \
  >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O \
  "-e$root/usr/libexec/virtiofsd" "-e$root/usr/libexec/virtiofsd-frontend" \
  "-e$root/usr/libexec/virtiofsd-broker" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: virtiofsd developers <virtiofsd@localhost>
Section: admin
Priority: optional
Depends: $depends
Conflicts: virtiofsd
Replaces: virtiofsd
Provides: virtiofsd
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Homepage: https://virtio-fs.gitlab.io/
Description: privilege-separated virtio-fs vhost-user daemon
 Shares a host directory with a virtual machine through a virtio-fs device
 (vhost-user backend for QEMU, libvirt, Kata Containers). It runs as two
 confined processes: an unprivileged frontend that parses the guest's
 requests and a broker that holds the shared directory. The command line is
 the Rust virtiofsd's.
EOF
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"

# Maintainer scripts: AppArmor profiles loaded and unloaded when AppArmor is on,
# systemd told about the unit when systemd runs, every instance stopped before
# the executables go, nothing left after a purge.
# QEMU's C daemon (qemu-system-common) ships a virtiofsd.1 too: ours diverts it
# to virtiofsd.qemu.1 for as long as the package is installed.
cat >"$root/DEBIAN/preinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = install ] || [ "$1" = upgrade ]; then
  dpkg-divert --package virtiofsd-privsep --add --rename \
    --divert /usr/share/man/man1/virtiofsd.qemu.1.gz /usr/share/man/man1/virtiofsd.1.gz
fi
exit 0
EOF
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if command -v apparmor_parser >/dev/null && [ -d /sys/kernel/security/apparmor ]; then
    for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
      apparmor_parser -r -T -W "/etc/apparmor.d/usr.libexec.$p" || true
    done
  fi
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
exit 0
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ]; then
  if [ -d /run/systemd/system ]; then systemctl stop 'virtiofsd@*.service' || true; fi
  if command -v apparmor_parser >/dev/null && [ -d /sys/kernel/security/apparmor ]; then
    for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
      [ -f "/etc/apparmor.d/usr.libexec.$p" ] &&
        apparmor_parser -R "/etc/apparmor.d/usr.libexec.$p" >/dev/null 2>&1 || true
    done
  fi
fi
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ] || [ "$1" = abort-install ]; then
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
  dpkg-divert --package virtiofsd-privsep --remove --rename \
    --divert /usr/share/man/man1/virtiofsd.qemu.1.gz /usr/share/man/man1/virtiofsd.1.gz
fi
if [ "$1" = purge ]; then
  for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
    rm -f "/var/cache/apparmor/"*"/usr.libexec.$p" "/etc/apparmor.d/cache/usr.libexec.$p"
  done
  rmdir /run/virtiofsd 2>/dev/null || true
fi
exit 0
EOF
chmod 0755 "$root/DEBIAN/preinst" "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

deb=$outdir/${package}_${version}_${arch}.deb
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "package-deb: built" >&2
echo "$deb"
