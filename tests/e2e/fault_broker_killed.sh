# Guest side of fault_broker_killed_test's EIO case (busybox sh; the share is the
# working directory). Writes and fsyncs files, starts a writer, asks the host to
# kill the broker (.kill-broker) until the launcher restarts no more, then checks
# that every later access fails with EIO and returns. Prints "CASE name result" lines and DONE; the host compares the synced
# files' md5 with what it finds.
eio() { grep -q -e "I/O error" -e "Input/output error" "$1"; }
# Runs "$@" and says whether it failed with EIO.
expect_eio() {
  name=$1
  shift
  if "$@" >/tmp/out 2>&1; then
    echo "CASE $name succeeded"
  elif eio /tmp/out; then
    echo "CASE $name EIO"
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

# 2. A writer that writes and fsyncs until the share fails it.
(
  i=0
  while dd if=/dev/zero of=inflight-$((i % 4)) bs=64k count=16 conv=fsync 2>/tmp/writer.err; do
    i=$((i + 1))
  done
  echo "$i" >/tmp/writer.done
) &
sleep 1

# 3. The host kills the broker now; the writer must fail within a minute, not hang.
touch .kill-broker
n=0
while [ ! -f /tmp/writer.done ] && [ $n -lt 600 ]; do
  sleep 0.1
  n=$((n + 1))
done
if [ ! -f /tmp/writer.done ]; then
  echo "CASE writer still-writing"
elif eio /tmp/writer.err; then
  echo "CASE writer EIO"
else
  echo "CASE writer $(head -c 200 /tmp/writer.err | tr '\n' ' ')"
fi

# The host kills every broker the launcher starts in its place until it starts no
# more: wait until the share has failed with EIO for 5 s on end.
n=0
eio_since=0
while [ $eio_since -lt 10 ] && [ $n -lt 300 ]; do
  if ls . >/tmp/poll 2>&1 || ! eio /tmp/poll; then eio_since=0; else eio_since=$((eio_since + 1)); fi
  sleep 0.5
  n=$((n + 1))
done

# 4. Everything after it fails with EIO, and returns.
expect_eio ls ls -la .
expect_eio cat cat synced-1
expect_eio create sh -c 'echo lost >after-kill'
expect_eio mkdir mkdir new-dir
expect_eio stat stat never-looked-up
expect_eio rm rm synced-2
expect_eio ls-again ls .
echo DONE
# init.sh then unmounts the share and powers off: the console says whether that worked.
