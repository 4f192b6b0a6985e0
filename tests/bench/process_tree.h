// Resource usage of a process and all its descendants, read from /proc (Linux):
// what a daemon costs, however many processes and threads it is made of.
//
//   ASSIGN_OR_RETURN(std::vector<ProcessUsage> tree, ReadProcessTree(daemon->pid()));
//   double cpu = TotalCpuSeconds(tree);
//
// Reading another user's smaps_rollup needs root (or ptrace rights); without them
// pss_kib is 0. A process that exits while being read is left out.

#ifndef VIRTIOFSD_TESTS_BENCH_PROCESS_TREE_H_
#define VIRTIOFSD_TESTS_BENCH_PROCESS_TREE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace virtiofsd::bench {

struct ProcessUsage {
  pid_t pid = 0;
  std::string name;      // argv[0]'s last component (else /proc/PID/comm)
  uint64_t rss_kib = 0;  // VmRSS
  uint64_t pss_kib = 0;  // Pss of smaps_rollup (0 if unreadable)
  int threads = 0;
  double cpu_seconds = 0;  // user + system of all its threads so far
};

// `root` first, then its descendants (any depth) in pid order. kNotFound if
// `root` does not exist.
absl::StatusOr<std::vector<ProcessUsage>> ReadProcessTree(pid_t root);

double TotalCpuSeconds(const std::vector<ProcessUsage>& tree);

}  // namespace virtiofsd::bench

#endif  // VIRTIOFSD_TESTS_BENCH_PROCESS_TREE_H_
