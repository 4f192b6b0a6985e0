#!/usr/bin/env bash
# Installs virtiofsd: builds it with `bazel -c opt` and lays out
#   $PREFIX/libexec/virtiofsd{,-frontend,-broker}        the launcher and its two children
#   $PREFIX/share/man/man1/virtiofsd.1.gz                the man page
#   $PREFIX/lib/systemd/system/virtiofsd@.service        the templated unit
#   $PREFIX/share/qemu/vhost-user/40-virtiofsd.json      the backend description for libvirt
#   $PREFIX/share/selinux/packages/virtiofsd/*.pp        the three SELinux modules (not loaded)
#   $SYSCONFDIR/apparmor.d/usr.libexec.virtiofsd*        the three AppArmor profiles (not loaded)
#   $SYSCONFDIR/virtiofsd/                               where the unit finds NAME.conf
# under $DESTDIR (a staging root for packagers; empty: the running system).
#
# Usage: tools/install.sh [--no-build] [--uninstall]
#   --no-build   install what bazel-bin already holds from `bazel build -c opt`
#   --uninstall  remove exactly what an install with the same settings lays out
# Environment: DESTDIR (default empty), PREFIX (default /usr), SYSCONFDIR (default /etc);
#   VIRTIOFSD_BIN_DIR: take the three executables from this directory instead of
#   building them (tests use it with the executables bazel gave them).
#
# The executables must stay together: the launcher starts the children it finds
# beside itself. With a PREFIX other than /usr the unit, the JSON and the AppArmor
# profiles are rewritten to the new paths (the profile file names keep
# usr.libexec.*, the paths inside them change).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 uninstall=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --uninstall) uninstall=1 ;;
    *) echo "install: unknown argument '$arg' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
if [[ "$PREFIX" != /* || "$SYSCONFDIR" != /* ]]; then
  echo "install: PREFIX and SYSCONFDIR must be absolute paths" >&2
  exit 2
fi

libexec=$PREFIX/libexec
readonly executables=(virtiofsd virtiofsd-frontend virtiofsd-broker)
readonly selinux_modules=(virtiofsd virtiofsd_frontend virtiofsd_broker)
readonly json=40-virtiofsd.json

# Every file an install lays out, relative to DESTDIR.
installed_files() {
  for e in "${executables[@]}"; do echo "$libexec/$e"; done
  echo "$PREFIX/share/man/man1/virtiofsd.1.gz"
  echo "$PREFIX/lib/systemd/system/virtiofsd@.service"
  echo "$PREFIX/share/qemu/vhost-user/$json"
  for m in "${selinux_modules[@]}"; do echo "$PREFIX/share/selinux/packages/virtiofsd/$m.pp"; done
  for e in "${executables[@]}"; do echo "$SYSCONFDIR/apparmor.d/usr.libexec.$e"; done
}
# QEMU's package (qemu-system-common) owns a virtiofsd.1 for its own C daemon:
# installing into the running system diverts it here (dpkg-divert --local), and
# --uninstall puts it back. Any other file owned by a package stops the install.
man_page=$PREFIX/share/man/man1/virtiofsd.1.gz
man_page_diverted=$PREFIX/share/man/man1/virtiofsd.qemu.1.gz
owner_of() { # prints the package owning $1 (diversions aside), if any
  [ -z "$DESTDIR" ] && command -v dpkg-query >/dev/null || return 0
  dpkg-query -S "$1" 2>/dev/null | sed -n '/^diversion by/d; s/: .*//p' | head -n 1 || true
}

# Directories only we create, removed on uninstall when empty.
own_dirs=("$PREFIX/share/selinux/packages/virtiofsd" "$SYSCONFDIR/virtiofsd")
# On uninstall: the empty directories an install may have created on the way to
# its files (below PREFIX and SYSCONFDIR), unless a package owns them.
remove_empty_parents() {
  local dir
  while read -r f; do
    dir=$(dirname "$f")
    while [ "$dir" != "$PREFIX" ] && [ "$dir" != "$SYSCONFDIR" ] && [ "$dir" != / ]; do
      echo "$dir"
      dir=$(dirname "$dir")
    done
  done < <(installed_files) | sort -u -r | while read -r dir; do # children first
    [ -z "$(owner_of "$dir")" ] || continue
    rmdir "$DESTDIR$dir" 2>/dev/null || true
  done
}

# Files of an installed package are dpkg's to change (dpkg -r), not ours.
while read -r f; do
  [ "$f" != "$man_page" ] || continue
  owner=$(owner_of "$f")
  if [ -n "$owner" ]; then
    echo "install: $f belongs to the package $owner: remove that package instead" >&2
    exit 1
  fi
done < <(installed_files)

if [ "$uninstall" = 1 ]; then
  while read -r f; do rm -f "$DESTDIR$f"; done < <(installed_files)
  for d in "${own_dirs[@]}"; do rmdir "$DESTDIR$d" 2>/dev/null || true; done
  remove_empty_parents
  if [ -z "$DESTDIR" ] && dpkg-divert --list "$man_page" 2>/dev/null | grep -q 'local diversion'; then
    dpkg-divert --local --rename --remove --divert "$man_page_diverted" "$man_page" >/dev/null
  fi
  echo "install: removed virtiofsd from ${DESTDIR:-/}" >&2
  exit 0
fi

if [ -n "${VIRTIOFSD_BIN_DIR:-}" ]; then
  sources=("${executables[@]/#/$VIRTIOFSD_BIN_DIR/}")
else
  if [ "$build" = 1 ]; then
    echo "install: building (bazel build -c opt)" >&2
    bazel build -c opt //launcher:virtiofsd //frontend:virtiofsd-frontend //broker:virtiofsd-broker
  fi
  bin=$(bazel info -c opt bazel-bin 2>/dev/null)
  sources=("$bin/launcher/virtiofsd" "$bin/frontend/virtiofsd-frontend" "$bin/broker/virtiofsd-broker")
fi
for s in "${sources[@]}"; do
  if [ ! -x "$s" ]; then
    echo "install: $s is missing: run without --no-build" >&2
    exit 1
  fi
done

owner=$(owner_of "$man_page")
if [ -n "$owner" ] && ! dpkg-divert --list "$man_page" | grep -q 'local diversion'; then
  dpkg-divert --local --rename --add --divert "$man_page_diverted" "$man_page" >/dev/null
  echo "install: $owner's $man_page moved to $man_page_diverted" >&2
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

# Paths inside the packaging files name /usr/libexec (the AppArmor profiles:
# /{usr/libexec,opt/kata/libexec}); follow PREFIX.
relocate() { sed -e "s|/usr/libexec/|$libexec/|g" -e "s|/{usr/libexec,|/{${libexec#/},|g" "$1"; }

# SELinux modules: compiled with refpolicy's devel Makefile, as packaging_test does.
if [ ! -f /usr/share/selinux/devel/Makefile ]; then
  echo "install: /usr/share/selinux/devel/Makefile is missing (apt-get install selinux-policy-dev)" >&2
  exit 1
fi
for m in "${selinux_modules[@]}"; do
  relocate "tools/packaging/selinux/$m.te" >"$staging/$m.te"
  relocate "tools/packaging/selinux/$m.fc" >"$staging/$m.fc"
done
make -s -C "$staging" -f /usr/share/selinux/devel/Makefile \
  "${selinux_modules[@]/%/.pp}" >"$staging/selinux.log" 2>&1 ||
  { cat "$staging/selinux.log" >&2; exit 1; }

install -d -m 0755 "$DESTDIR$libexec" "$DESTDIR$PREFIX/share/man/man1" \
  "$DESTDIR$PREFIX/lib/systemd/system" "$DESTDIR$PREFIX/share/qemu/vhost-user" \
  "$DESTDIR$PREFIX/share/selinux/packages/virtiofsd" "$DESTDIR$SYSCONFDIR/apparmor.d" \
  "$DESTDIR$SYSCONFDIR/virtiofsd"
for i in "${!executables[@]}"; do
  install -m 0755 "${sources[$i]}" "$DESTDIR$libexec/${executables[$i]}"
done
# -n: no time stamp, so two builds of one tree give the same bytes.
gzip -9 -n -c tools/packaging/virtiofsd.1 >"$staging/virtiofsd.1.gz"
install -m 0644 "$staging/virtiofsd.1.gz" "$DESTDIR$PREFIX/share/man/man1/virtiofsd.1.gz"
relocate tools/packaging/virtiofsd@.service >"$staging/unit"
install -m 0644 "$staging/unit" "$DESTDIR$PREFIX/lib/systemd/system/virtiofsd@.service"
relocate "tools/packaging/$json" >"$staging/json"
install -m 0644 "$staging/json" "$DESTDIR$PREFIX/share/qemu/vhost-user/$json"
for m in "${selinux_modules[@]}"; do
  install -m 0644 "$staging/$m.pp" "$DESTDIR$PREFIX/share/selinux/packages/virtiofsd/$m.pp"
done
for e in "${executables[@]}"; do
  relocate "tools/packaging/apparmor/usr.libexec.$e" >"$staging/$e.apparmor"
  install -m 0644 "$staging/$e.apparmor" "$DESTDIR$SYSCONFDIR/apparmor.d/usr.libexec.$e"
done
echo "install: installed virtiofsd into ${DESTDIR:-/} (PREFIX=$PREFIX)" >&2
