# Guest side of fault_broker_killed_test's restart case (busybox sh; the share is
# the working directory). Writes and fsyncs files, holds a file open for writing
# and a working directory two levels down, asks the host to kill the broker
# (.kill-broker), waits for the host's .broker-restarted, then checks that all of
# it carries on. Prints "CASE name result" lines (result "ok" or what failed) and
# DONE; the host compares the files with what it finds.
ok() {
  name=$1
  shift
  if "$@" >/tmp/out 2>&1; then
    echo "CASE $name ok"
  else
    echo "CASE $name $(head -c 200 /tmp/out | tr '\n' ' ')"
  fi
}

# 1. Written and fsync'd before the kill: must be on the host byte for byte.
for i in 1 2 3; do
  dd if=/dev/urandom of=/tmp/synced-$i bs=64k count=$((i * 8)) 2>/dev/null
  dd if=/tmp/synced-$i of=synced-$i bs=64k conv=fsync 2>/dev/null || echo "CASE synced-$i dd-failed"
  echo "CASE synced-$i $(md5sum </tmp/synced-$i | cut -d' ' -f1)"
done
echo doomed >doomed

# 2. Held across the kill: a file open for writing, and a working directory.
mkdir -p sub/deeper && echo "in sub" >sub/deeper/file
exec 3>held-open
echo before >&3
(
  cd sub/deeper || exit 1
  touch /tmp/cwd.ready
  while [ ! -f /tmp/go ]; do sleep 0.1; done
  cat file >/tmp/cwd.out 2>&1
  echo $? >/tmp/cwd.rc
) &

while [ ! -f /tmp/cwd.ready ]; do sleep 0.1; done

# 3. The host kills the broker now and says when it did.
touch .kill-broker
n=0
while [ ! -f .broker-restarted ] && [ $n -lt 600 ]; do
  sleep 0.1
  n=$((n + 1))
done
ok restarted test -f .broker-restarted

# 4. Everything carries on.
ok held-write sh -c 'echo after >&3'
exec 3>&-
ok ls ls -la .
ok cat sh -c '[ "$(md5sum <synced-1)" = "$(md5sum </tmp/synced-1)" ]'
ok create sh -c 'echo new >after-kill'
ok mkdir mkdir new-dir
ok fsync dd if=/dev/zero of=new-dir/synced-after bs=64k count=4 conv=fsync
ok stat stat held-open
ok rm rm doomed
touch /tmp/go
n=0
while [ ! -f /tmp/cwd.rc ] && [ $n -lt 600 ]; do
  sleep 0.1
  n=$((n + 1))
done
ok cwd sh -c '[ "$(cat /tmp/cwd.rc)" = 0 ] && [ "$(cat /tmp/cwd.out)" = "in sub" ] || cat /tmp/cwd.out'
echo DONE
# init.sh then unmounts the share and powers off: the console says whether that worked.
