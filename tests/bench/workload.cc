#include "tests/bench/workload.h"

#include <algorithm>
#include <tuple>

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
  // The qd16 rows of GETATTR and 4 KiB READ/WRITE again, their 16 requests spread
  // over 4 request queues (4 in flight on each) as a guest with several queues
  // spreads them: the same load, served by 4 queue threads instead of one.
  constexpr int kQueues = 4;
  for (auto [name, op, size, unit] : {std::tuple{"GETATTR", Op::kGetattr, 0u, "ops/s"},
                                      std::tuple{"READ 4KiB", Op::kRead, 4096u, "ops/s"},
                                      std::tuple{"WRITE 4KiB", Op::kWrite, 4096u, "ops/s"}}) {
    rows.push_back(
        {absl::StrCat(name, " qd16 on ", kQueues, " queues"), op, 16, size, unit, kQueues});
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
