#include "tests/bench/workload.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace virtiofsd::bench {

std::vector<Workload> Workloads(int dir_entries) {
  std::vector<Workload> rows;
  for (auto [name, op] : {std::pair{"GETATTR", Op::kGetattr}, std::pair{"LOOKUP", Op::kLookup}}) {
    for (int depth : {1, 16}) {
      rows.push_back({absl::StrCat(name, " qd", depth), op, depth, 0, "ops/s"});
    }
  }
  rows.push_back({"CREATE+RELEASE+UNLINK", Op::kCreate, 1, 0, "ops/s"});
  rows.push_back(
      {absl::StrCat("READDIRPLUS ", dir_entries, " entries"), Op::kReaddirplus, 1, 0, "entries/s"});
  for (auto [size, size_name, unit] :
       {std::tuple{4096u, "4KiB", "ops/s"}, std::tuple{1u << 20, "1MiB", "MB/s"}}) {
    for (auto [name, op] : {std::pair{"READ", Op::kRead}, std::pair{"WRITE", Op::kWrite}}) {
      for (int depth : {1, 16}) {
        rows.push_back({absl::StrCat(name, " ", size_name, " qd", depth), op, depth, size, unit});
      }
    }
  }
  return rows;
}

double UnitsPerRequest(const Workload& workload) {
  return workload.unit == "MB/s" ? workload.io_size / 1e6 : 1;
}

void Recorder::Merge(const Recorder& other) {
  micros_.insert(micros_.end(), other.micros_.begin(), other.micros_.end());
  units_ += other.units_;
}

void Recorder::Finish(absl::Duration elapsed, Result* result) {
  result->requests = micros_.size();
  if (micros_.empty()) return;
  result->per_second = units_ / absl::ToDoubleSeconds(elapsed);
  std::sort(micros_.begin(), micros_.end());
  result->p50_us = micros_[micros_.size() / 2];
  result->p99_us = micros_[micros_.size() * 99 / 100];
}

}  // namespace virtiofsd::bench
