#!/usr/bin/env bash
# The benchmark of this daemon against QEMU's C virtiofsd and the host's own syscalls.
#   tools/bench.sh [--rounds=N] [--quick] [--seconds=S] [--entries=N] [--files=N] [--no-guest]
#                  [--dir=DIR] [--out=FILE]
# Builds what it needs (bazel build -c opt), then runs, round after round with the order of
# the columns rotated each round:
#   1. tests/bench/fuse_bench on one shared directory: ours, C (QEMU's virtiofsd with its
#      default --thread-pool-size=0), C with --thread-pool-size=64, and native (the host's
#      syscalls); rates, latencies, CPU per 100k GETATTRs, memory and threads after the load;
#      the rows on 4 request queues start ours with --num-request-queues=4 (C serves one
#      request queue: n/a there);
#   2. a real guest (tools/guest, TCG) against ours and C in turn: memory, threads and CPU of
#      the daemon idle for 10 s after the mount, then a metadata job (unpack ~5,000 small
#      files, list them with attributes, remove them).
# Prints the medians of all rounds and our ratio to C; writes them with the machine, the date
# and this command to --out (default BENCHMARKS.md at the top, chart and raw rounds under
# tests/bench/results/). Default: 3 rounds, 2 s per row, a directory of 10,000 entries
# (--entries), a tree of 5,000 files (--files). --quick: 1 round, 0.2 s per row, small
# counts, no C-pool64 column (about a minute on a quiet machine); writes nothing unless --out
# is given. Run as root (the daemons' sandboxes) on a quiet machine.
set -euo pipefail
usage() {
  sed -n '2,4p' "$0" >&2
  exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 seconds=2 entries=10000 files=5000 idle=10 guest=1 quick=0 out='' base=${TMPDIR:-/tmp}
for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds=${arg#*=} ;;
    --seconds=*) seconds=${arg#*=} ;;
    --entries=*) entries=${arg#*=} ;;
    --files=*) files=${arg#*=} ;;
    --quick) quick=1 rounds=1 seconds=0.2 entries=1000 files=200 idle=2 ;;
    --no-guest) guest=0 ;;
    --dir=*) base=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    *) usage ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
[ $quick = 1 ] || [ -n "$out" ] || out=$top/BENCHMARKS.md
command_line="tools/bench.sh${*:+ $*}"
log() { echo "bench: $*" >&2; }

cd "$top"
# The revision measured, taken before this run writes its own results into the tree.
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || revision="$revision (with uncommitted changes)"
log "building (bazel build -c opt)"
if ! build_log=$(bazel build -c opt //launcher:virtiofsd //tests/bench:fuse_bench \
  //tests/bench:tree_usage 2>&1); then
  echo "$build_log" | tail -n 30 >&2
  exit 1
fi
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
c_daemon=/usr/lib/qemu/virtiofsd
[ -x "$c_daemon" ] || {
  log "$c_daemon is missing (apt-get install qemu-system-common)"
  exit 1
}
ours="$bin/launcher/virtiofsd --socket-path={socket} --shared-dir={dir} --cache=auto"
# fuse_bench fills in {queues} for each row: 4 for the rows on several request queues.
ours_driven="$ours --num-request-queues={queues}"
c="$c_daemon --socket-path={socket} -o source={dir} -o cache=auto"
c64="$c --thread-pool-size=64"

work=$(mktemp -d "$base/bench.XXXXXX")
# Kept when something failed: the rounds measured so far are in it.
trap 'if [ $? = 0 ]; then rm -rf "$work"; else log "kept $work"; fi' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

# The columns of round $1, rotated by one place each round.
rotate() {
  local -n list=$2
  local n=${#list[@]} i
  for ((i = 0; i < n; i++)); do echo "${list[((i + $1 - 1) % n)]}"; done
}

# The tree the guest unpacks: $1 small files (40 to 4,000 bytes) in directories of 100.
make_tree() {
  python3 - "$1" "$2" <<'EOF'
import io, random, sys, tarfile
count, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(1)
with tarfile.open(path, "w:gz") as tar:
    for i in range(count):
        data = bytes(rng.randrange(97, 123) for _ in range(rng.randrange(40, 4000)))
        info = tarfile.TarInfo(f"d{i // 100:03d}/f{i % 100:02d}.txt")
        info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
        tar.addfile(info, io.BytesIO(data))
EOF
}

# Waits until guest.out in $1 holds "BENCH $2"; fails after $3 s.
await_marker() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "^BENCH $2" "$1/guest.out" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# CPU seconds of the process tree of $1.
tree_cpu() { "$bin/tests/bench/tree_usage" "$1" | awk -F'\t' '{ s += $6 } END { printf "%.2f", s }'; }

# One guest run: column $1 (daemon command $2) appends its rows to $3.
guest_run() {
  local name=$1 cmd=$2 tsv=$3 dir="$work/guest-$1" pid cpu0 t0 cpu1 t1 out
  rm -rf "$dir"
  mkdir -p "$dir/share" "$dir/log"
  cp "$work/tree.tar.gz" "$dir/share/"
  printf 'IDLE_SECONDS=%s\nFILES=%s\n' "$idle" "$files" >"$dir/share/job.env"
  # The daemon writes its pid where the sampler finds it (run_guest.sh starts it).
  local wrapped="bash -c 'echo \$\$ >$dir/pid; exec $cmd'"
  tools/guest/run_guest.sh --daemon "$wrapped" --shared-dir "$dir/share" \
    --script tests/bench/guest_job.sh --log "$dir/log" --timeout 900 >"$dir/out" 2>"$dir/err" &
  local runner=$!
  if await_marker "$dir/log" idle-start 300 && pid=$(cat "$dir/pid"); then
    cpu0=$(tree_cpu "$pid") t0=$(date +%s.%N)
    if await_marker "$dir/log" idle-end 300; then
      cpu1=$(tree_cpu "$pid") t1=$(date +%s.%N)
      "$bin/tests/bench/tree_usage" "$pid" | awk -F'\t' -v c="$name" -v idle="$idle" \
        -v cpu="$(awk -v a="$cpu0" -v b="$cpu1" -v s="$t0" -v e="$t1" -v i="$idle" \
          'BEGIN { printf "%.3f", (b - a) * i / (e - s) }')" '
        { n[$2]++; p = n[$2] == 1 ? $2 : $2 "#" n[$2]
          printf "%s\tRSS idle after mount (guest)\tKiB:%s\t%s\n", c, p, $3
          printf "%s\tPSS idle after mount (guest)\tKiB:%s\t%s\n", c, p, $4
          printf "%s\tthreads idle after mount (guest)\tn:%s\t%s\n", c, p, $5
          rss += $3; pss += $4; threads += $5 }
        END { printf "%s\tRSS idle after mount (guest)\tKiB\t%d\n", c, rss
              printf "%s\tPSS idle after mount (guest)\tKiB\t%d\n", c, pss
              printf "%s\tthreads idle after mount (guest)\tn\t%d\n", c, threads
              printf "%s\tCPU over %d s idle after mount (guest)\ts\t%s\n", c, idle, cpu }' >>"$tsv"
    fi
  fi
  if ! wait "$runner"; then
    log "guest run of $name failed:"
    tail -n 20 "$dir/err" >&2
    printf '%s\tguest: metadata job\terror\tguest run failed\n' "$name" >>"$tsv"
    return 0
  fi
  sed -n 's/^BENCH \(untar\|ls-lR\|rm-rf\) \([0-9.]*\)$/\1 \2/p' "$dir/out" |
    while read -r phase s; do
      case $phase in
        untar) row="guest: unpack $files files" ;;
        ls-lR) row="guest: list them (ls -lnR)" ;;
        rm-rf) row="guest: rm -rf them" ;;
      esac
      printf '%s\t%s\ts\t%s\n' "$name" "$row" "$s" >>"$tsv"
    done
}

# shellcheck disable=SC2034 # read through rotate's nameref
columns=("ours:$ours_driven" "C:$c" "native:")
# shellcheck disable=SC2034
[ $quick = 1 ] || columns=("ours:$ours_driven" "C:$c" "C-pool64:$c64" "native:")
# shellcheck disable=SC2034 # read through rotate's nameref
guests=("ours" "C")
[ $guest = 0 ] || make_tree "$files" "$work/tree.tar.gz"
for ((r = 1; r <= rounds; r++)); do
  tsv="$work/round-$r.tsv"
  : >"$tsv"
  args=()
  while read -r column; do
    case $column in
      native:) args+=(--native) ;;
      *) args+=("--column=$column") ;;
    esac
  done < <(rotate "$r" columns)
  log "round $r/$rounds: fuse_bench (${args[*]%%:*})"
  "$bin/tests/bench/fuse_bench" --seconds="$seconds" --entries="$entries" --dir="$work" \
    --tsv="$tsv" "${args[@]}" >"$work/fuse_bench-$r.out" 2>"$work/fuse_bench-$r.err" ||
    { cat "$work/fuse_bench-$r.err" >&2; exit 1; }
  [ $guest = 1 ] || continue
  while read -r name; do
    log "round $r/$rounds: guest against $name"
    if [ "$name" = ours ]; then guest_run ours "$ours" "$tsv"; else guest_run C "$c" "$tsv"; fi
  done < <(rotate "$r" guests)
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

rounds_files=()
for ((r = 1; r <= rounds; r++)); do rounds_files+=("$work/round-$r.tsv"); done
# shellcheck disable=SC2054 # the commas are summarize.py's
summary_args=(--ours=ours --ref=C --columns=ours,C,C-pool64,native)
python3 tests/bench/summarize.py "${summary_args[@]}" "${rounds_files[@]}" | tee "$work/summary.md"
echo
echo "load average (1/5/15 min): $load_before before, $load_after after"
[ -n "$out" ] || exit 0

results=$(dirname "$out")/tests/bench/results
[ "$out" = "$top/BENCHMARKS.md" ] || results=$(dirname "$out")/bench-results
mkdir -p "$results"
rm -f "$results"/round-*.tsv
cp "${rounds_files[@]}" "$results/"
python3 tests/bench/summarize.py "${summary_args[@]}" --svg="$results/throughput.svg" \
  "${rounds_files[@]}" >/dev/null
chart=$(realpath --relative-to="$(dirname "$out")" "$results/throughput.svg")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
fs=$(df -T "$work" | awk 'NR == 2 { print $2 }')
pool64_note=''
if grep -q $'^C-pool64\tGETATTR qd16\terror' "${rounds_files[@]}" 2>/dev/null; then
  pool64_note="QEMU's C virtiofsd with \`--thread-pool-size=64\` died (closed the vhost-user socket) at GETATTR qd16 in $(grep -l $'^C-pool64\tGETATTR qd16\terror' "${rounds_files[@]}" | wc -l) of $rounds rounds, and at every other row of depth 16: \"error\" there (a fresh daemon took each next row). With Debian 12's build the kernel's audit log shows why: its own seccomp filter kills a \"pool\" thread with SIGSYS on sched_getaffinity (syscall 204); at depth 1 it serves."
fi
{
  cat <<EOF
# Benchmarks

This daemon (\`ours\`) against QEMU's C virtiofsd (\`C\`: \`/usr/lib/qemu/virtiofsd\`, its default
\`--thread-pool-size=0\`, requests served inline; \`C-pool64\`: with \`--thread-pool-size=64\`) and
the host's own syscalls on the same directory (\`native\`: the limit no daemon can pass), all with
\`cache=auto\`. Produced by \`$command_line\`.

| | |
|---|---|
| date | $started |
| machine | $(nproc) CPUs, $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM |
| kernel | $(uname -r) |
| shared directory | $fs |
| load average (1/5/15 min) | $load_before before, $load_after after |
| revision | $revision |
| rounds | $rounds, the columns' order rotated each round; figures are medians |

EOF
  if awk -v n="$(nproc)" '{ exit !($1 > n || $4 > n) }' <<<"$load_before $load_after"; then
    printf '**The machine was busy** (load average above its %s CPUs): these figures are noisy; rerun the command on a quiet machine.\n\n' "$(nproc)"
  fi
  cat <<'EOF'
## How to read it

- The driver rows come from `tests/bench/fuse_bench`, which plays QEMU and the guest's
  virtio-fs driver over vhost-user with a real split ring (QEMU 7.2's negotiation, indirect
  chains of page-sized buffers) and checks every reply. `qdN` keeps N requests in flight on
  one request queue (native: N threads). CREATE+RELEASE+UNLINK is one cycle (with the
  FORGET a guest sends when the inode goes); READDIRPLUS lists the whole directory one 4 KiB
  page per request, as Linux reads it. The driver copies data into and out of guest memory,
  a cost every daemon's column carries alike.
- "qd16 on 4 queues" keeps the same 16 requests in flight spread over 4 request queues (4
  on each; one driver thread posts them all), as a guest with several queues spreads its
  requests; ours is started with `--num-request-queues=4` for these rows (and its memory
  and threads are those of the one-queue daemon before them). QEMU's C virtiofsd offers
  one request queue: n/a. "Request queues" sets each beside its one-queue row.
- CPU per 100k GETATTR is user + system time of all the daemon's processes over the
  measured span, divided by the requests served: a design that spins cannot hide its cost.
- RSS, PSS and threads count every process of the daemon (ours: the launcher, the
  frontend and the broker; C: its two processes). "after load" is 1 s
  after the driver rows; "idle after mount (guest)" is a real guest (TCG) that mounted the
  share and stayed idle (10 s, `--quick` 2 s), with the CPU the daemon used meanwhile.
- The guest rows are a metadata job in that guest, each phase on a cold cache: unpack a tree
  of small files (with sync), list it with every file's attributes (`ls -lnR`: busybox find
  has no `-ls`), remove it. Under TCG the guest's own work is emulated: read them as ratios.
- File data never crosses the channel between our two processes (the broker hands the
  frontend the open file), so READ and WRITE should stay near C; metadata requests pay a
  round trip between the frontend and the broker: at depth 1 one each (most of a GETATTR on
  small hosts), at depth 16 one per batch (the requests of one kick travel in one frame).

## Results

EOF
  [ -z "$pool64_note" ] || printf '\n%s\n' "$pool64_note"
  printf '\n![Throughput relative to C](%s)\n\n' "$chart"
  cat "$work/summary.md"
} >"$out"
log "wrote $out and $results/"
