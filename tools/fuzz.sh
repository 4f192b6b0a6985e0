#!/usr/bin/env bash
# Runs one libFuzzer target for a while, starting from its seed corpus.
# Usage: tools/fuzz.sh TARGET [SECONDS]     e.g. tools/fuzz.sh frame_decode 60
# Targets: the fuzz_target()s in tests/fuzz/BUILD.bazel, without "_fuzzer".
# New inputs go to tests/fuzz/corpus-TARGET/ (ignored by git); a crash leaves
# crash-* in the current directory: add it to tests/fuzz/corpus/TARGET once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh TARGET [SECONDS]}
seconds=${2:-60}
tools/setup.sh
bazel build --config=fuzz "//tests/fuzz:${target}_fuzzer"
# Not the bazel-bin symlink: another bazel command may repoint it meanwhile.
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)
mkdir -p "tests/fuzz/corpus-${target}"
exec "$bin/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  "tests/fuzz/corpus-${target}" "tests/fuzz/corpus/${target}"
