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
# The plain run has every test; the ASan run all but the real-guest tests (a TCG
# guest is minutes of CPU, and the integration tests already run the daemon's
# executables under ASan).
# Tests tagged manual (they change the system: //tools/packaging:deb_test) are
# run by hand only, as `bazel test //...` does.
bazel query 'tests(//...) except attr(tags, "\bmanual\b", tests(//...))' 2>/dev/null |
  sort > "$out/default.targets" &&
  bazel query 'tests(//...) except attr(tags, "\b(e2e|manual)\b", tests(//...))' 2>/dev/null |
  sort > "$out/asan.targets" || { echo "bazel query failed"; echo "0 passed, 1 failed"; exit 1; }

summary_args=()
for config in default asan; do
  flags=(--keep_going --build_event_json_file="$out/$config.json")
  # --build_tests_only: the ASan run builds only what its tests need (the plain run
  # has already built every target once).
  [ "$config" = asan ] && flags+=(--config=asan --test_tag_filters=-e2e --build_tests_only)
  echo "=== bazel test ($config) ==="
  bazel test "${flags[@]}" //... 2>&1 | tail -n 60
  summary_args+=("$out/$config.targets" "$out/$config.json")
done

echo "=== summary ==="
tools/ci_summary.py "${summary_args[@]}"
