#!/usr/bin/env bash
# tools/install.sh into a staging root (DESTDIR), with the executables this test
# was given: every file lands where the README's Install section says, a PREFIX
# other than /usr is followed inside the unit, the vhost-user JSON and the AppArmor
# profiles, the installed launcher finds its children beside itself, and
# --uninstall removes every file it laid out.
set -euo pipefail
runfiles=$TEST_SRCDIR/${TEST_WORKSPACE:-virtiofsd}
fail() {
  echo "install_test: FAIL: $*" >&2
  exit 1
}
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/install_test.XXXXXX")
export TMPDIR=$work # install.sh stages its files there
mkdir "$work/bin"
for e in launcher/virtiofsd frontend/virtiofsd-frontend broker/virtiofsd-broker; do
  cp "$runfiles/$e" "$work/bin/"
done

for prefix in /usr /usr/local; do
  root=$work/root$prefix
  DESTDIR=$root PREFIX=$prefix VIRTIOFSD_BIN_DIR=$work/bin "$runfiles/tools/install.sh" 2>/dev/null ||
    fail "install.sh with PREFIX=$prefix"
  expected=(
    "$prefix/libexec/virtiofsd" "$prefix/libexec/virtiofsd-frontend"
    "$prefix/libexec/virtiofsd-broker" "$prefix/share/man/man1/virtiofsd.1.gz"
    "$prefix/lib/systemd/system/virtiofsd@.service"
    "$prefix/share/qemu/vhost-user/40-virtiofsd.json"
    "$prefix/share/selinux/packages/virtiofsd/virtiofsd.pp"
    "$prefix/share/selinux/packages/virtiofsd/virtiofsd_frontend.pp"
    "$prefix/share/selinux/packages/virtiofsd/virtiofsd_broker.pp"
    /etc/apparmor.d/usr.libexec.virtiofsd /etc/apparmor.d/usr.libexec.virtiofsd-frontend
    /etc/apparmor.d/usr.libexec.virtiofsd-broker
  )
  actual=$(cd "$root" && find . -type f | sed 's|^\.||' | sort)
  [ "$actual" = "$(printf '%s\n' "${expected[@]}" | sort)" ] ||
    fail "PREFIX=$prefix laid out:"$'\n'"$actual"
  for e in virtiofsd virtiofsd-frontend virtiofsd-broker; do
    [ -x "$root$prefix/libexec/$e" ] || fail "$e is not executable"
  done
  # Paths inside the packaging files follow PREFIX.
  grep -q "^ExecStart=$prefix/libexec/virtiofsd " "$root$prefix/lib/systemd/system/virtiofsd@.service" ||
    fail "the unit does not start $prefix/libexec/virtiofsd"
  grep -q "\"binary\": \"$prefix/libexec/virtiofsd\"" "$root$prefix/share/qemu/vhost-user/40-virtiofsd.json" ||
    fail "the JSON does not name $prefix/libexec/virtiofsd"
  grep -q "^profile virtiofsd-broker /{${prefix#/}/libexec,opt/kata/libexec}/virtiofsd-broker " \
    "$root/etc/apparmor.d/usr.libexec.virtiofsd-broker" || fail "the broker profile's path"
  grep -qF "/{${prefix#/}/libexec,opt/kata/libexec}/virtiofsd-frontend Px," \
    "$root/etc/apparmor.d/usr.libexec.virtiofsd" ||
    fail "the launcher profile's transition"
  if [ "$prefix" != /usr ] && grep -rhE '/usr/libexec|[{]usr/libexec' "$root/etc" \
    "$root$prefix/lib" "$root$prefix/share/qemu" | grep -qv '^ *#'; then
    fail "PREFIX=$prefix: /usr/libexec is still named"
  fi
  "$root$prefix/libexec/virtiofsd" --print-capabilities | grep -q '"type": "fs"' ||
    fail "the installed launcher does not run"
  zcat "$root$prefix/share/man/man1/virtiofsd.1.gz" | grep -q '^\.SH OPTIONS' || fail "man page"

  DESTDIR=$root PREFIX=$prefix "$runfiles/tools/install.sh" --uninstall 2>/dev/null ||
    fail "install.sh --uninstall"
  left=$(find "$root" -mindepth 1 ! -path "$root$prefix" ! -path "$root/etc" ! -path "$root/usr")
  [ -z "$left" ] || fail "--uninstall left: $left"
done

# A bad setting is refused before anything is written.
if DESTDIR=$work/bad PREFIX=usr VIRTIOFSD_BIN_DIR=$work/bin "$runfiles/tools/install.sh" 2>/dev/null; then
  fail "a relative PREFIX was accepted"
fi
[ ! -e "$work/bad" ] || fail "a refused install wrote files"
echo "install_test: PASS"
