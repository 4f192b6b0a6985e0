# Runs inside the AppArmor test guest (busybox sh, AppArmor on), as /test.sh.
# Prints one "CHECK name ok|FAIL detail" line per claim; apparmor_guest_test.sh
# reads them.
check() { if [ "$2" = ok ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL $2"; fi; }
share=/srv/virtiofs/share
mkdir -p /run/virtiofsd "$share"
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
/usr/libexec/virtiofsd --socket-path=/run/virtiofsd/t.sock --shared-dir="$share" \
  >/tmp/daemon.log 2>&1 &
daemon=$!
i=0
while [ ! -S /run/virtiofsd/t.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
for pid in $(ls /proc | grep '^[0-9]*$'); do
  exe=$(readlink /proc/$pid/exe 2>/dev/null) || continue
  case "$exe" in
    /usr/libexec/virtiofsd*) echo "PROCESS $pid $exe $(cat /proc/$pid/attr/current)" ;;
  esac
done
for p in virtiofsd virtiofsd-frontend virtiofsd-broker; do
  found=no
  for pid in $(ls /proc | grep '^[0-9]*$'); do
    [ "$(readlink /proc/$pid/exe 2>/dev/null)" = "/usr/libexec/$p" ] || continue
    [ "$(cat /proc/$pid/attr/current)" = "$p (enforce)" ] && found=yes
  done
  [ $found = yes ] && check "confined-$p" ok || check "confined-$p" "no process in its profile"
done
if out=$(probe_client /run/virtiofsd/t.sock 2>&1) && [ "$out" = PROBE-OK ]; then
  check serves ok
else
  check serves "$out"
fi
[ "$(cat "$share/probe" 2>&1)" = "written through the confined daemon" ] && check written ok ||
  check written "$(cat "$share/probe" 2>&1)"
kill $daemon
wait $daemon
echo "--- daemon log"
cat /tmp/daemon.log
echo "--- denials"
dmesg | grep 'apparmor="DENIED"' | sed 's/^\[[ 0-9.]*\] //' | tail -n 30
dmesg | grep -q 'apparmor="DENIED"' && check "no-denials-while-serving" \
  "denials above" || check "no-denials-while-serving" ok

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
