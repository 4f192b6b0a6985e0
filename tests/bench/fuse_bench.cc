// Benchmark (not a test): FUSE request rates of vhost-user-fs back-ends side by
// side with the host's own syscalls on the same directory, driven by the test
// driver exactly as a guest would (QEMU 7.2 negotiation, indirect chains of
// page-sized buffers). One column per --daemon/--column, plus --native, each run
// in turn in the order given (commands split on spaces; {socket} and {dir} are
// filled in; absolute paths, since `bazel run` starts in the runfiles tree):
//
//   bazel run -c opt //tests/bench:fuse_bench --
//     --column='C:/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir}'
//     --column='ours:/abs/path/to/virtiofsd --socket-path={socket} --shared-dir={dir}
//               --num-request-queues={queues}'
//     --native [--seconds=2] [--entries=10000] [--dir=/var/tmp] [--tsv=FILE]
//     [--only=TEXT (the rows whose name holds TEXT)]
//
// Rows (workload.h): GETATTR and LOOKUP (qd 1, 16), CREATE+RELEASE+UNLINK cycles,
// READDIRPLUS of a directory of --entries files, READ and WRITE of 4 KiB (ops/s)
// and 1 MiB (MB/s) at qd 1 and 16, then GETATTR and 4 KiB READ/WRITE at qd 16
// spread over 4 request queues, each with the median and 99th percentile time a
// request is in flight. For those a daemon is started anew with "{queues}" in its
// command filled in (ours: --num-request-queues={queues}); one that offers fewer
// queues gets "n/a" there. Then, per daemon: CPU seconds (user + system of all its
// processes) per 100,000 GETATTRs, and RSS, PSS and threads of each of its
// processes once the load is over. Every reply is checked; a failing row gets
// "error", the daemon's log goes to stderr and a fresh daemon takes the next row.
// --tsv appends every figure as "column<TAB>row<TAB>unit<TAB>value" (what
// tools/bench.sh summarises). The machine is noisy: compare columns of one run.

#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "tests/bench/process_tree.h"
#include "tests/bench/target.h"
#include "tests/bench/workload.h"

namespace virtiofsd::bench {
namespace {

struct Column {
  std::string name;
  std::string command;  // empty: the host's syscalls
};

// One figure of one column.
struct Figure {
  std::string row, unit, value;
};

absl::Status MakeShare(const std::string& base, int entries, Share* share) {
  std::string dir = base + "/fuse-bench-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return ErrnoError(errno, "mkdtemp in " + base);
  share->path = dir + "/shared";
  share->dir_entries = entries;
  std::error_code error;
  for (const char* sub : {"", "/dir", "/new"}) {
    if (!std::filesystem::create_directory(share->path + sub, error)) {
      return absl::InternalError(share->path + sub + ": " + error.message());
    }
  }
  {
    std::ofstream file(share->path + "/file", std::ios::binary);
    const std::string chunk(1 << 20, 'x');
    for (uint64_t done = 0; done < Share::kFileSize; done += chunk.size()) file << chunk;
    if (!file) return absl::InternalError("writing " + share->path + "/file");
  }
  for (int i = 0; i < entries; ++i) {
    std::ofstream(absl::StrFormat("%s/dir/entry-%05d", share->path, i));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Target>> StartTarget(const Column& column, const Share& share,
                                                    const std::string& work_dir, int queues) {
  if (column.command.empty()) return StartNativeTarget(share);
  std::filesystem::create_directories(work_dir);
  return StartDaemonTarget(column.command, share, work_dir, queues);
}

std::string OneLine(std::string text) {
  return absl::StrReplaceAll(text, {{"\t", " "}, {"\n", " "}});
}

// RSS, PSS and threads of every process of the target, 1 s after its load.
void AddUsage(const Target& target, std::vector<Figure>* figures) {
  if (!target.pid().has_value()) return;
  absl::SleepFor(absl::Seconds(1));  // idle after the load
  absl::StatusOr<std::vector<ProcessUsage>> tree = ReadProcessTree(*target.pid());
  if (!tree.ok()) return;
  uint64_t rss = 0, pss = 0;
  int threads = 0;
  std::map<std::string, int> seen;  // names twice in a tree get "#2"
  for (const ProcessUsage& p : *tree) {
    const int n = ++seen[p.name];
    const std::string name = n == 1 ? p.name : absl::StrCat(p.name, "#", n);
    figures->push_back({"RSS after load", "KiB:" + name, absl::StrCat(p.rss_kib)});
    figures->push_back({"PSS after load", "KiB:" + name, absl::StrCat(p.pss_kib)});
    figures->push_back({"threads after load", "n:" + name, absl::StrCat(p.threads)});
    rss += p.rss_kib;
    pss += p.pss_kib;
    threads += p.threads;
  }
  figures->push_back({"RSS after load", "KiB", absl::StrCat(rss)});
  figures->push_back({"PSS after load", "KiB", absl::StrCat(pss)});
  figures->push_back({"threads after load", "n", absl::StrCat(threads)});
}

// Runs `rows` in order on one target, restarted for each new queue count (the
// rows on several queues come last). Memory and threads are those of the first
// target, after its rows: a daemon offering one request queue unless only rows on
// several were asked for.
std::vector<Figure> RunColumn(const Column& column, const Share& share, const std::string& work_dir,
                              const std::vector<Workload>& rows, double seconds) {
  std::vector<Figure> figures;
  int queues = rows.empty() ? 1 : rows.front().queues;
  absl::StatusOr<std::unique_ptr<Target>> target = StartTarget(column, share, work_dir, queues);
  bool usage_taken = false;
  for (const Workload& workload : rows) {
    if (workload.queues != queues) {
      if (!usage_taken && target.ok()) AddUsage(**target, &figures);
      usage_taken = true;
      if (target.ok()) target->reset();  // the old daemon goes before the new one starts
      queues = workload.queues;
      target = StartTarget(column, share, work_dir, queues);
    }
    if (!target.ok()) {
      // A daemon that offers fewer queues than the row needs cannot run it.
      const bool not_served = queues > 1 && absl::IsFailedPrecondition(target.status());
      figures.push_back(
          {workload.name, not_served ? "n/a" : "error", OneLine(target.status().ToString())});
      continue;
    }
    const Result r = (*target)->Run(workload, absl::Seconds(seconds));
    if (!r.error.empty()) {
      fprintf(stderr, "%s, %s: %s\nlog:\n%s\n", column.name.c_str(), workload.name.c_str(),
              r.error.c_str(), (*target)->Log().c_str());
      figures.push_back({workload.name, "error", OneLine(r.error)});
      target->reset();  // a fresh daemon for the next row
      target = StartTarget(column, share, work_dir, queues);
      continue;
    }
    figures.push_back({workload.name, workload.unit, absl::StrFormat("%.1f", r.per_second)});
    figures.push_back({workload.name, "p50_us", absl::StrFormat("%.1f", r.p50_us)});
    figures.push_back({workload.name, "p99_us", absl::StrFormat("%.1f", r.p99_us)});
    if (workload.op == Op::kGetattr && workload.queues == 1 && r.requests > 0) {
      figures.push_back({absl::StrCat("CPU per 100k GETATTR qd", workload.depth), "s",
                         absl::StrFormat("%.3f", r.cpu_seconds / r.requests * 1e5)});
    }
  }
  if (!usage_taken && target.ok()) AddUsage(**target, &figures);
  return figures;
}

int Usage() {
  fprintf(
      stderr,
      "usage: fuse_bench [--column='NAME:CMD with {socket} and {dir}'] [--daemon='CMD'] "
      "[--native] [--seconds=2] [--entries=10000] [--dir=/tmp] [--tsv=FILE] [--only=ROW-TEXT]\n");
  return 2;
}

int Main(int argc, char** argv) {
  // The driver copies every reply out of guest memory into a fresh string. Keep
  // freed memory in the heap: returning it to the kernel would make each 1 MiB
  // reply fault in 256 pages (costly on virtual machines), a client cost a guest
  // does not pay, which would swamp the READ 1MiB qd16 row.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  std::vector<Column> columns;
  double seconds = 2;
  int entries = 10000;
  std::string base = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  std::string tsv, only;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--daemon=")) {
      columns.push_back({absl::StrCat("daemon ", columns.size() + 1), std::string(arg)});
    } else if (absl::ConsumePrefix(&arg, "--column=") && absl::StrContains(arg, ':')) {
      const size_t colon = arg.find(':');
      columns.push_back({std::string(arg.substr(0, colon)), std::string(arg.substr(colon + 1))});
    } else if (arg == "--native") {
      columns.push_back({"native", ""});
    } else if (absl::ConsumePrefix(&arg, "--seconds=")) {
      if (!absl::SimpleAtod(arg, &seconds) || seconds <= 0) return Usage();
    } else if (absl::ConsumePrefix(&arg, "--entries=")) {
      if (!absl::SimpleAtoi(arg, &entries) || entries < 0) return Usage();
    } else if (absl::ConsumePrefix(&arg, "--dir=")) {
      base = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--only=")) {
      only = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--tsv=")) {
      tsv = std::string(arg);
    } else {
      return Usage();
    }
  }
  if (columns.empty()) {
    columns.push_back(
        {"C", "/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir} -o cache=auto"});
  }
  Share share;
  if (absl::Status status = MakeShare(base, entries, &share); !status.ok()) {
    fprintf(stderr, "fuse_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  const std::string top = std::filesystem::path(share.path).parent_path();
  std::vector<Workload> rows;
  for (Workload& workload : Workloads(entries)) {
    if (absl::StrContains(workload.name, only)) rows.push_back(std::move(workload));
  }
  std::vector<std::vector<Figure>> results;
  for (size_t c = 0; c < columns.size(); ++c) {
    results.push_back(RunColumn(columns[c], share, absl::StrCat(top, "/column", c), rows, seconds));
  }
  std::filesystem::remove_all(top);

  if (!tsv.empty()) {
    std::ofstream out(tsv, std::ios::app);
    for (size_t c = 0; c < columns.size(); ++c) {
      for (const Figure& f : results[c]) {
        out << columns[c].name << '\t' << f.row << '\t' << f.unit << '\t' << f.value << '\n';
      }
    }
    if (!out) {
      fprintf(stderr, "fuse_bench: cannot write %s\n", tsv.c_str());
      return 1;
    }
  }
  for (const Column& column : columns) {
    printf("%s: %s\n", column.name.c_str(),
           column.command.empty() ? "the host's syscalls" : column.command.c_str());
  }
  // One line per row: each column's main figure, and p50/p99 where there is one.
  std::vector<std::string> order;
  for (const auto& figures : results) {
    for (const Figure& f : figures) {
      if (!absl::StrContains(f.unit, ':') &&
          std::find(order.begin(), order.end(), f.row) == order.end()) {
        order.push_back(f.row);
      }
    }
  }
  printf("\n%-28s", "row");
  for (const Column& column : columns) printf(" %30s", column.name.c_str());
  printf("\n");
  for (const std::string& row : order) {
    printf("%-28s", row.c_str());
    for (const auto& figures : results) {
      std::string cell = "-", p50, p99;
      for (const Figure& f : figures) {
        if (f.row != row) continue;
        if (f.unit == "p50_us") {
          p50 = f.value;
        } else if (f.unit == "p99_us") {
          p99 = f.value;
        } else if (f.unit == "error" || f.unit == "n/a") {
          cell = f.unit;
        } else if (!absl::StrContains(f.unit, ':')) {
          cell = absl::StrCat(f.value, " ", f.unit);
        }
      }
      if (!p50.empty()) cell += absl::StrCat(" ", p50, "/", p99);
      printf(" %30s", cell.c_str());
    }
    printf("\n");
  }
  printf("\n(a/b after a rate: p50/p99 us a request is in flight, posted to reply)\n");
  return 0;
}

}  // namespace
}  // namespace virtiofsd::bench

int main(int argc, char** argv) { return virtiofsd::bench::Main(argc, argv); }
