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
# Three runs:
#  plain  every target built, every test run but the real-guest ones (tagged exclusive);
#  guest  the real-guest tests (a TCG guest each, one at a time), plainly;
#  asan   every test but the real-guest ones under ASan+UBSan (a TCG guest is minutes
#         of CPU, and the integration tests already run the daemon's executables under
#         ASan), building only what its tests need.
# guest and asan run at the same time: a guest keeps about one core busy, and the ASan
# build takes what is left. The ASan run has its own Bazel server and output base (one
# server runs one command at a time), started at a lower priority so that the guests
# keep the CPU they need.
# Tests tagged manual are run by hand only, as `bazel test //...` does.
query() { bazel query "tests(//...) except attr(tags, \"\\b($1)\\b\", tests(//...))" 2>/dev/null; }
{ query 'manual|exclusive' | sort >"$out/plain.targets" &&
  bazel query 'attr(tags, "\bexclusive\b", tests(//...)) except attr(tags, "\bmanual\b", tests(//...))' \
    2>/dev/null | sort >"$out/guest.targets" &&
  query 'e2e|manual' | sort >"$out/asan.targets" &&
  asan_base="$(bazel info output_base 2>/dev/null)-asan"; } ||
  { echo "bazel query failed"; echo "0 passed, 1 failed"; exit 1; }

# run NAME COMMAND...: one `bazel test` COMMAND (its build events in $out/NAME.json), its
# output in $out/NAME.log.
run() {
  local name=$1
  shift
  "$@" >"$out/$name.log" 2>&1
}
show() { echo "=== bazel test ($1) ==="; tail -n 60 "$out/$1.log"; }

run plain bazel test --keep_going --build_event_json_file="$out/plain.json" \
  --test_tag_filters=-exclusive //...
show plain
run guest bazel test --keep_going --build_event_json_file="$out/guest.json" \
  --test_tag_filters=exclusive //... &
guest_pid=$!
# The ASan server gets its tests by name, not as //...: that pattern would take it into
# the first server's convenience symlink (bazel-<directory>), which only the first
# server knows to skip.
run asan nice -n 10 bazel --output_base="$asan_base" test --keep_going \
  --build_event_json_file="$out/asan.json" --config=asan --test_tag_filters=-e2e \
  --build_tests_only --symlink_prefix=/ --target_pattern_file="$out/asan.targets" &
asan_pid=$!
wait "$guest_pid"
show guest
wait "$asan_pid"
show asan
# A fresh server next time, so that it starts at the lower priority again.
bazel --output_base="$asan_base" shutdown 2>/dev/null

echo "=== summary ==="
tools/ci_summary.py "$out/plain.targets" "$out/plain.json" "$out/guest.targets" "$out/guest.json" \
  "$out/asan.targets" "$out/asan.json"
