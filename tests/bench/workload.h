// The rows of the FUSE benchmark (fuse_bench) and what one measurement of a row
// yields, shared by the targets that run them (a daemon over vhost-user, or the
// host's own syscalls on the same directory).

#ifndef VIRTIOFSD_TESTS_BENCH_WORKLOAD_H_
#define VIRTIOFSD_TESTS_BENCH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace virtiofsd::bench {

enum class Op {
  kGetattr,      // GETATTR of "file"
  kLookup,       // LOOKUP of "file" in the root
  kCreate,       // CREATE + RELEASE + UNLINK (+ FORGET) of a new file in "new": one cycle
  kReaddirplus,  // OPENDIR + READDIRPLUS (4 KiB per request, as Linux) + RELEASEDIR of "dir"
  kRead,         // READ of io_size bytes of "file", offsets cycling through it
  kWrite,        // WRITE of io_size bytes, likewise
};

struct Workload {
  std::string name;  // the row, e.g. "GETATTR qd16"
  Op op;
  int depth = 1;         // requests in flight in all (native: threads)
  uint32_t io_size = 0;  // kRead, kWrite
  std::string unit;      // "ops/s", "MB/s", "entries/s"
  // Request queues the `depth` requests are spread over, evenly (a daemon is
  // started offering this many; the host's syscalls ignore it).
  int queues = 1;
};

// The shared directory every target works in (made once by fuse_bench).
struct Share {
  static constexpr uint64_t kFileSize = 64ull << 20;
  std::string path;     // holds "file" (kFileSize bytes), "dir", "new"
  int dir_entries = 0;  // files in "dir"
};

// The rows, in order: those on several request queues last, so a daemon column
// restarts its daemon once for them. `dir_entries` names the READDIRPLUS row.
std::vector<Workload> Workloads(int dir_entries);

struct Result {
  double per_second = 0;   // in the workload's unit
  double p50_us = 0;       // time a request (kCreate: a cycle) is in flight: median...
  double p99_us = 0;       // ...and 99th percentile
  double cpu_seconds = 0;  // CPU the target used while measuring (daemon: all its processes)
  uint64_t requests = 0;   // requests (kCreate: cycles) measured
  std::string error;
};

// Collects per-request latencies and units of work over a measured span.
class Recorder {
 public:
  void Add(absl::Duration latency, double units) {
    micros_.push_back(absl::ToDoubleMicroseconds(latency));
    units_ += units;
  }
  void Merge(const Recorder& other);
  // Fills per_second, p50_us, p99_us and requests for a span of `elapsed`.
  void Finish(absl::Duration elapsed, Result* result);

 private:
  std::vector<double> micros_;
  double units_ = 0;
};

// The units one request of `workload` counts (kRead/kWrite in MB/s: its MB).
double UnitsPerRequest(const Workload& workload);

}  // namespace virtiofsd::bench

#endif  // VIRTIOFSD_TESTS_BENCH_WORKLOAD_H_
