#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything, runs every
# test plainly and again under ASan+UBSan, and ends with `N passed, N failed`
# (gtest cases; see tools/ci_summary.py). Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1
# The real-guest tests need the guest kernel and initramfs; tests never download.
tools/guest/prepare.sh || { echo "guest preparation failed"; echo "0 passed, 1 failed"; exit 1; }

out=$(mktemp -d /tmp/virtiofsd-test.XXXXXX)
bazel query 'tests(//...)' 2>/dev/null | sort > "$out/targets" || {
  echo "bazel query failed"; echo "0 passed, 1 failed"; exit 1; }

runs=()
for config in default asan; do
  flags=(--keep_going --build_event_json_file="$out/$config.json")
  [ "$config" = asan ] && flags+=(--config=asan)
  echo "=== bazel test ($config) ==="
  bazel test "${flags[@]}" //... 2>&1 | tail -n 60
  runs+=("$out/$config.json")
done

echo "=== summary ==="
tools/ci_summary.py "$out/targets" "${runs[@]}"
