#!/usr/bin/env bash
# Installing for real: tools/install.sh into THIS system and --uninstall leave no
# trace; then the Debian package: builds it (tools/package-deb.sh, with the
# executables this test was given), installs it with dpkg -i, and checks that
#  - /usr/libexec/virtiofsd --print-capabilities answers from the installed path;
#  - libvirt would choose it: of the vhost-user JSON files with "type": "fs", the
#    first by name is ours (QEMU's 50-qemu-virtiofsd.json may be there too);
#  - the installed daemon serves a real guest (tools/guest/run_guest.sh) started
#    with libvirt's exact argument lists (a listening socket passed with --fd, as
#    qemu_virtiofs.c does, old -o form and new separate options) and Kata's Go
#    runtime's (--syslog, --fd=3), and under the systemd unit's confinement as far
#    as it can be reproduced without systemd;
#  - dpkg --purge leaves nothing behind in any place the package touches.
# It modifies the system (dpkg), so it is tagged manual: run it on a Debian 12 host
# or VM you may change, as root:
#   bazel test //tools/packaging:deb_test --test_output=streamed
# Refuses to run when a package owning /usr/libexec/virtiofsd is already installed.
set -euo pipefail

runfiles=${TEST_SRCDIR:-$(dirname "$0")/..}/${TEST_WORKSPACE:-virtiofsd}
fail() {
  echo "deb_test: FAIL: $*" >&2
  exit 1
}
log() { echo "deb_test: $*" >&2; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs a package)"
if owner=$(dpkg -S /usr/libexec/virtiofsd 2>/dev/null); then
  fail "already installed here ($owner): remove it first"
fi

work=$(mktemp -d /tmp/deb_test.XXXXXX)
package=virtiofsd-privsep
cleanup() {
  dpkg --purge "$package" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Everything a package install could leave: its files, dpkg's records, AppArmor's
# cache, the unit's runtime directory.
snapshot() {
  {
    find /usr/libexec /usr/share/man/man1 /usr/lib/systemd/system /lib/systemd/system \
      /usr/share/qemu /usr/share/selinux /etc/apparmor.d /etc/virtiofsd /var/cache/apparmor \
      /run/virtiofsd -xdev 2>/dev/null |
      grep -v '^/run/virtiofsd/\..*\.pid$' || true # QEMU's C daemon's pid files
    ls /var/lib/dpkg/info/ 2>/dev/null | sed 's|^|dpkg-info:|'
    dpkg-divert --list | sed 's|^|divert:|'
    dpkg-query -W -f '${Package} ${Status}\n' 2>/dev/null | grep -v 'not-installed$' |
      sed 's|^|dpkg:|' || true
  } | sort
}
snapshot >"$work/before"

mkdir "$work/bin"
for e in launcher/virtiofsd frontend/virtiofsd-frontend broker/virtiofsd-broker; do
  cp "$runfiles/$e" "$work/bin/"
done

# 0. The sysadmin's way first: tools/install.sh into this system and --uninstall.
VIRTIOFSD_BIN_DIR=$work/bin "$runfiles/tools/install.sh" 2>"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "tools/install.sh"; }
/usr/libexec/virtiofsd --print-capabilities | grep -q '"type": "fs"' ||
  fail "install.sh: --print-capabilities from /usr/libexec"
zgrep -q 'broker' /usr/share/man/man1/virtiofsd.1.gz || fail "install.sh: man virtiofsd is not ours"
"$runfiles/tools/install.sh" --uninstall 2>>"$work/install.log" || fail "install.sh --uninstall"
snapshot >"$work/after-install-sh"
if ! diff -u "$work/before" "$work/after-install-sh" >&2; then
  fail "install.sh --uninstall left something behind (diff above)"
fi
log "install.sh installed into the system and --uninstall removed it all"

# 1. Build the package from the executables this test depends on.
deb=$(VIRTIOFSD_BIN_DIR=$work/bin "$runfiles/tools/package-deb.sh" "$work" | tail -n 1)
[ -f "$deb" ] || fail "package-deb.sh made no package"
log "built $(basename "$deb")"

# 2. Install it.
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; fail "dpkg -i"; }
for f in /usr/libexec/virtiofsd /usr/libexec/virtiofsd-frontend /usr/libexec/virtiofsd-broker \
  /usr/share/man/man1/virtiofsd.1.gz /usr/lib/systemd/system/virtiofsd@.service \
  /usr/share/qemu/vhost-user/40-virtiofsd.json /etc/apparmor.d/usr.libexec.virtiofsd; do
  [ -e "$f" ] || fail "$f is not installed"
done
# QEMU's man page for its own daemon, when there, is moved aside, not lost.
if dpkg-query -S /usr/share/man/man1/virtiofsd.qemu.1.gz 2>/dev/null | grep -q '^diversion'; then
  [ -f /usr/share/man/man1/virtiofsd.qemu.1.gz ] || fail "QEMU's virtiofsd.1 was not diverted"
fi
zgrep -q 'broker' /usr/share/man/man1/virtiofsd.1.gz || fail "man virtiofsd is not ours"
caps=$(/usr/libexec/virtiofsd --print-capabilities)
grep -q '"type": "fs"' <<<"$caps" || fail "--print-capabilities: $caps"
log "installed; --print-capabilities answers"

# 3. libvirt's choice: the first file by name (over /etc/qemu/vhost-user and
#    /usr/share/qemu/vhost-user, /etc winning on equal names) whose type is fs.
chosen=$(python3 - <<'EOF'
import json, os
files = {}
for d in ("/usr/share/qemu/vhost-user", "/etc/qemu/vhost-user"):
    if os.path.isdir(d):
        for name in os.listdir(d):
            if name.endswith(".json"):
                files[name] = os.path.join(d, name)
for name in sorted(files):
    with open(files[name]) as f:
        desc = json.load(f)
    if desc.get("type") == "fs":
        print(desc["binary"])
        break
EOF
)
[ "$chosen" = /usr/libexec/virtiofsd ] || fail "libvirt would choose '$chosen'"
log "libvirt's vhost-user lookup chooses /usr/libexec/virtiofsd"

# 4. The installed daemon serves a guest with libvirt's and Kata's argument lists.
#    with_fd SOCKET FD PROGRAM ARGS...: binds and listens on SOCKET, as libvirt and
#    Kata do, and execs PROGRAM with the listening socket at fd FD ("any": where it
#    lands; Kata always uses 3) and "{fd}" in ARGS replaced by its number.
cat >"$work/with_fd.py" <<'EOF'
import os, socket, sys
path, want, program, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
fd = s.detach()
if want != "any" and fd != int(want):
    os.dup2(fd, int(want))
    os.close(fd)
    fd = int(want)
os.set_inheritable(fd, True)
os.execv(program, [program] + [a.replace("{fd}", str(fd)) for a in args])
EOF
cat >"$work/guest.sh" <<'EOF'
set -e
echo "written by the guest" >/mnt/from-guest
test "$(cat /mnt/from-host)" = "written by the host"
ls -la /mnt
echo DEB-GUEST-OK
EOF
serve() { # NAME DAEMON-COMMAND ({socket}, {dir} as run_guest.sh fills them)
  local name=$1 command=$2
  local share=$work/share-$name
  mkdir "$share"
  echo "written by the host" >"$share/from-host"
  log "guest with $name's command line: $command"
  if ! tools_out=$("$runfiles/tools/guest/run_guest.sh" --shared-dir "$share" \
    --script "$work/guest.sh" --log "$work/log-$name" --timeout 300 \
    --daemon "$command" 2>"$work/run-$name.err"); then
    cat "$work/run-$name.err" "$work/log-$name/daemon.log" >&2 || true
    fail "$name: the guest run failed"
  fi
  grep -q DEB-GUEST-OK <<<"$tools_out" || fail "$name: the guest script did not finish"
  [ "$(cat "$share/from-guest")" = "written by the guest" ] || fail "$name: file not on host"
  log "$name: the guest mounted the share, read and wrote"
}
with_fd="python3 $work/with_fd.py {socket}"
# libvirt >= 9.x (qemu_virtiofs.c with separate options).
serve libvirt "$with_fd any /usr/libexec/virtiofsd --fd={fd} --shared-dir={dir} --cache=none \
  --sandbox=chroot --xattr --thread-pool-size=16 --log-level=debug"
# libvirt before that (Debian 12's 9.0): the -o form.
serve libvirt-o "$with_fd any /usr/libexec/virtiofsd --fd={fd} \
  -o source={dir},cache=always,xattr --thread-pool-size=16 -d"
# Kata's Go runtime (virtiofsd.go) with its default extra arguments.
kata_syslog=--syslog
if [ -n "${DEB_TEST_KATA_NO_SYSLOG:-}" ]; then kata_syslog=''; fi
serve kata "$with_fd 3 /usr/libexec/virtiofsd $kata_syslog --cache=auto --shared-dir={dir} \
  --fd=3 --thread-pool-size=1 --announce-submounts"
# The installed unit's confinement, as far as it can be had without systemd: its
# capability bounding set (read from the unit), a private network namespace,
# read-only /usr, /etc, /boot and /proc/sys (ProtectSystem=full,
# ProtectKernelTunables=), UMask=0077.
unit=/usr/lib/systemd/system/virtiofsd@.service
bounding=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | sed 's/^CAP_/+/' |
  tr 'A-Z' 'a-z' | paste -sd, -)
[ -n "$bounding" ] || fail "no CapabilityBoundingSet= in $unit"
cat >"$work/unit_like.sh" <<'EOF'
set -e
bounding=$1
shift
mount --make-rprivate /
for d in /usr /etc /boot /proc/sys; do
  [ -d "$d" ] || continue
  mount --bind "$d" "$d"
  mount -o remount,bind,ro "$d"
done
umask 0077
exec setpriv --bounding-set=-all,"$bounding" "$@"
EOF
serve unit "unshare --net --mount -- sh $work/unit_like.sh $bounding \
  /usr/libexec/virtiofsd --socket-path={socket} --shared-dir={dir}"

# 5. Remove and purge: nothing of it is left.
dpkg -r "$package" >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log" >&2; fail "dpkg -r"; }
[ ! -e /usr/libexec/virtiofsd ] || fail "dpkg -r left /usr/libexec/virtiofsd"
dpkg --purge "$package" >"$work/dpkg-p.log" 2>&1 || { cat "$work/dpkg-p.log" >&2; fail "purge"; }
snapshot >"$work/after"
if ! diff -u "$work/before" "$work/after" >"$work/diff"; then
  cat "$work/diff" >&2
  fail "dpkg --purge left something behind (diff above)"
fi
log "removed and purged: nothing left"
echo "deb_test: PASS"
