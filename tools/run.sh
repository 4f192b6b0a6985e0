#!/usr/bin/env bash
# The README's "run it for real": installs what is missing, builds the daemon, boots a Linux
# guest under QEMU that mounts a shared directory through it, lists it and writes a file
# back, then shows the host's side.
# Usage: tools/run.sh
# Environment:
#   VIRTIOFSD_CMD       another daemon command with {socket} and {dir}; skips the build. QEMU's:
#                       '/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir}'
#   VIRTIOFSD_DEMO_DIR  the shared directory (default /tmp/virtiofsd-demo; emptied first)
#   VIRTIOFSD_GUEST_DIR where tools/guest/prepare.sh keeps the guest (/var/cache/virtiofsd-guest)
#   BAZEL_OUTPUT_BASE   passed to bazel as --output_base when set (then no bazel-* symlinks
#                       are made, so the work tree's keep pointing at the default build)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/guest/prepare.sh >/dev/null

# 1. The daemon: ours unless VIRTIOFSD_CMD says otherwise.
cmd=${VIRTIOFSD_CMD:-}
if [ -z "$cmd" ]; then
  bazel=(bazel) build_flags=()
  if [ -n "${BAZEL_OUTPUT_BASE:-}" ]; then
    bazel+=("--output_base=$BAZEL_OUTPUT_BASE")
    build_flags+=(--symlink_prefix=/)
  fi
  echo "run: building the daemon" >&2
  if ! "${bazel[@]}" build "${build_flags[@]}" //launcher:virtiofsd //frontend:virtiofsd-frontend \
    //broker:virtiofsd-broker; then
    echo "run: the build failed. To run another daemon meanwhile:" >&2
    echo "  VIRTIOFSD_CMD='/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir}' tools/run.sh" >&2
    exit 1
  fi
  bin=$("${bazel[@]}" info bazel-bin 2>/dev/null)/launcher/virtiofsd
  cmd="$bin --socket-path={socket} --shared-dir={dir} --cache=auto"
fi

# 2. A demo share with one file from the host.
share=${VIRTIOFSD_DEMO_DIR:-/tmp/virtiofsd-demo}
rm -rf "$share"
mkdir -p "$share"
echo "hello from the host ($(hostname), $(date -u +%FT%TZ))" >"$share/hello-from-host.txt"

# 3. Boot the guest: it mounts the share, lists it and writes back (tools/guest/demo.sh).
echo "run: booting the guest (QEMU, TCG) against: $cmd" >&2
logs=$(mktemp -d /tmp/virtiofsd-run.XXXXXX)
tools/guest/run_guest.sh --daemon "$cmd" --shared-dir "$share" --script tools/guest/demo.sh \
  --timeout 120 --log "$logs"

# 4. The host's side.
echo
echo "host: $share now holds:"
ls -la "$share"
echo "host: from-guest.txt says: $(cat "$share/from-guest.txt")"
echo "host: logs (daemon, console, guest output) in $logs"
