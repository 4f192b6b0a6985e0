#!/usr/bin/env bash
# summarize.py (tools/bench.sh's arithmetic) on recorded rounds: testdata/round-1.tsv is a
# real fuse_bench --tsv run (with failed rows); rounds 2 and 3 add figures (and a row on
# several request queues) whose medians and ratios are worked out by hand below.
set -euo pipefail
dir=$(dirname "$0")
summarize() { python3 "$dir/summarize.py" --columns=ours,C,C-pool64,native "$@"; }
rounds=("$dir"/testdata/round-{1,2,3}.tsv)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
summarize --svg="$out/chart.svg" "${rounds[@]}" >"$out/summary.md"
failed=0
expect() {
  grep -qxF -- "$1" "$out/summary.md" || {
    echo "FAIL: no line: $1"
    failed=1
  }
}
# ours median(6800.8, 1000, 3000) = 3000; C median(35823.1, 20000, 10000) = 20000; 0.15.
# C-pool64 median(5724.2, 6000) = 5862.1; native only in round 1.
expect '| GETATTR qd1 | ops/s | 3,000 | 20,000 | 5,862 | 213,584 | 0.15 |'
# p50 (57.1 + 101.1) / 2 = 79.1; p99 (3275.8 + 900) / 2 = 2087.9.
expect '| GETATTR qd1 | 79.1 / 2,088 | 20.9 / 67.8 | 151 / 1,768 | 1.40 / 2.30 |'
# A row that failed in one round: the median of the others, and the failure said.
expect '| READ 1MiB qd1 | MB/s | 2,000 [error in 1 round] | 1,000 [error in 1 round] | 1,526 | 9,510 | 2.00 |'
# A row that failed in every round of a column.
expect '| GETATTR qd16 | ops/s | 19,526 | 30,729 | error | 248,741 | 0.64 |'
# Totals and each process's part: (43684 + 40000) / 2 = 41842, C (23132 + 25000) / 2 = 24066.
expect '| RSS after load | KiB | 41,842 (virtiofsd 5,252 + virtiofsd-broke 7,950 + virtiofsd-front 22,838 + virtiofsd-broke#2 5,802) | 24,066 (virtiofsd 3,660 + virtiofsd#2 19,472) | 7,004 (virtiofsd 3,736 + virtiofsd#2 3,268) | - | 1.74 |'
# Rows of rounds 2 and 3 only: (100 + 120) / 2 = 110 against (80 + 100) / 2 = 90.
expect '| guest: unpack 5000 files | s | 110 | 90 | - | - | 1.22 |'
expect '- C-pool64, GETATTR qd16: UNAVAILABLE: the vhost-user back-end closed the socket'
# A row on 4 request queues (rounds 2 and 3): ours median(30000, 50000) = 40000; C cannot
# run it (n/a, not an error); beside the one-queue row (round 1 only: 19525.9),
# 40000 / 19525.9 = 2.05.
expect '| GETATTR qd16 on 4 queues | ops/s | 40,000 | n/a | - | 250,000 | - |'
expect '| GETATTR qd16 on 4 queues | 500 / 6,000 | - | - | - |'
expect '| GETATTR qd16 -> 4 queues | ops/s | 19,526 | 40,000 | 2.05 |'
expect '- C: FAILED_PRECONDITION: back-end has 2 queues, 5 wanted (GETATTR qd16 on 4 queues)'
if grep -q -- '^- C, GETATTR qd16 on 4 queues' "$out/summary.md"; then
  echo "FAIL: a row a column cannot run is listed as an error"
  failed=1
fi

# The chart: well-formed, a bar per rate row and column other than C (15 rows x 3), "n/a"
# for the 6 rows C-pool64 failed in every round and the 3 of the row C cannot run.
bars=$(python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
print(len(root.findall(f".//{ns}rect/{ns}title")),
      sum(t.text == "n/a" for t in root.iter(f"{ns}text")))' "$out/chart.svg")
[ "$bars" = "36 9" ] || {
  echo "FAIL: bars and n/a in the chart: $bars, 36 9 expected"
  failed=1
}

# Malformed input is refused with the place named.
printf 'ours\tGETATTR qd1\tops/s\n' >"$out/bad.tsv"
if summarize "$out/bad.tsv" >/dev/null 2>"$out/err" || ! grep -q 'bad.tsv:1' "$out/err"; then
  echo "FAIL: a line of 3 fields was accepted"
  failed=1
fi
printf 'ours\tGETATTR qd1\tops/s\tfast\n' >"$out/bad.tsv"
if summarize "$out/bad.tsv" >/dev/null 2>&1; then
  echo "FAIL: a value that is no number was accepted"
  failed=1
fi
[ $failed = 0 ] || {
  cat "$out/summary.md"
  exit 1
}
echo PASS
