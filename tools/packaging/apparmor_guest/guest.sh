# shellcheck shell=dash
# Runs inside the AppArmor test guest (busybox sh, AppArmor on), as /test.sh.
# Prints one "CHECK name ok|FAIL detail" line per claim; apparmor_guest_test.sh
# reads them.
check() { if [ "$2" = ok ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL $2"; fi; }
share=/srv/virtiofs/share
mkdir -p "$share"
echo "host file" >"$share/host-file"

[ "$(cat /sys/module/apparmor/parameters/enabled 2>&1)" = Y ] && check apparmor-on ok ||
  check apparmor-on "not enabled"
if apparmor_parser -r /etc/apparmor.d/usr.libexec.virtiofsd \
  /etc/apparmor.d/usr.libexec.virtiofsd-frontend /etc/apparmor.d/usr.libexec.virtiofsd-broker \
  2>/tmp/parser.err; then
  check profiles-load ok
else
  check profiles-load "$(cat /tmp/parser.err)"
fi
cat /sys/kernel/security/apparmor/profiles
for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
  grep -q "^$p (enforce)" /sys/kernel/security/apparmor/profiles && check "enforce-$p" ok ||
    check "enforce-$p" "not loaded in enforce mode"
done

# Each process can do its job: the daemon starts under its profiles and serves.
# serve NAME DIR SOCKET SHARE ARGS...: DIR/virtiofsd on SOCKET sharing SHARE.
serve() {
  local name=$1 dir=$2 socket=$3 share=$4
  shift 4
  mkdir -p "$(dirname "$socket")" "$share"
  "$dir/virtiofsd" --socket-path="$socket" --shared-dir="$share" "$@" >/tmp/daemon.log 2>&1 &
  daemon=$!
  i=0
  while [ ! -S "$socket" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 1
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    exe=$(readlink /proc/$pid/exe 2>/dev/null) || continue
    case "$exe" in
      */virtiofsd*) echo "PROCESS $pid $exe $(cat /proc/$pid/attr/current)" ;;
    esac
  done
  for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
    found=no
    for d in /proc/[0-9]*; do
      pid=${d#/proc/}
      [ "$(readlink /proc/$pid/exe 2>/dev/null)" = "$dir/$p" ] || continue
      [ "$(cat /proc/$pid/attr/current)" = "$p (enforce)" ] && found=yes
    done
    [ $found = yes ] && check "$name-confined-$p" ok ||
      check "$name-confined-$p" "no process in its profile"
  done
  if out=$(probe_client "$socket" 2>&1) && [ "$out" = PROBE-OK ]; then
    check "$name-serves" ok
  else
    check "$name-serves" "$out"
  fi
  [ "$(cat "$share/probe" 2>&1)" = "written through the confined daemon" ] &&
    check "$name-written" ok || check "$name-written" "$(cat "$share/probe" 2>&1)"
  kill $daemon
  wait $daemon
  echo "--- $name: daemon log"
  cat /tmp/daemon.log
  echo "--- $name: denials"
  dmesg | grep 'apparmor="DENIED"' | sed 's/^\[[ 0-9.]*\] //' | tail -n 30
  dmesg | grep -q 'apparmor="DENIED"' && check "$name-no-denials" "denials above" ||
    check "$name-no-denials" ok
}
serve default /usr/libexec /run/virtiofsd/t.sock "$share"
# Kata's layout: /opt/kata/libexec, its socket and share directories, and the
# broker's chroot sandbox (its profile's VIRTIOFSD_NAMESPACE_SANDBOX set false,
# as the profile says).
mkdir -p /opt/kata/libexec
cp -a /usr/libexec/virtiofsd* /opt/kata/libexec/
sed -i 's/^\$VIRTIOFSD_NAMESPACE_SANDBOX = true/$VIRTIOFSD_NAMESPACE_SANDBOX = false/' \
  /etc/apparmor.d/usr.libexec.virtiofsd-broker
apparmor_parser -r /etc/apparmor.d/usr.libexec.virtiofsd-broker && check chroot-profile ok ||
  check chroot-profile "reload failed"
serve kata-chroot /opt/kata/libexec /run/vc/vm/sandbox1/vhost-fs.sock \
  /run/kata-containers/shared/sandboxes/sandbox1/shared --sandbox=chroot

# Each profile denies what its process must never do. A shell is started in the
# profile (change_onexec) and tries it; the same without the profile succeeds.
in_profile() { # PROFILE COMMAND: exit status of COMMAND run by a shell in PROFILE
  (
    echo -n "exec $1" >/proc/self/attr/exec || exit 99
    exec /bin/busybox sh -c "$2"
  )
}
try() { # NAME PROFILE COMMAND: COMMAND works unconfined and fails in PROFILE
  /bin/busybox sh -c "$3" >/dev/null 2>&1
  free=$?
  in_profile "$2" "$3" >/dev/null 2>&1
  confined=$?
  if [ $free = 0 ] && [ $confined != 0 ] && [ $confined != 99 ]; then
    check "$1" ok
  else
    check "$1" "unconfined=$free confined=$confined"
  fi
}
try broker-may-not-execute virtiofsd-broker '/bin/busybox true'
try frontend-may-not-execute virtiofsd-frontend '/bin/busybox true'
# Not a check: the frontend's profile must allow rw on every path, because the
# files the broker passes it are disconnected from its root and AppArmor sees
# them under their names beneath the share, which can be anything. Its seccomp
# filter (no open/openat) and its empty root are what keep it off host files.
in_profile virtiofsd-frontend 'read l </etc/passwd' >/dev/null 2>&1 &&
  echo "INFO the frontend's profile lets it read /etc/passwd (by design, see above)"
try launcher-may-not-read-the-share virtiofsd 'read l <'"$share"'/host-file'
try launcher-may-not-execute-others virtiofsd '/bin/busybox true'
echo "--- denials of the probes"
dmesg | grep 'apparmor="DENIED"' | sed 's/^\[[ 0-9.]*\] //' | tail -n 20
echo GUEST-DONE
