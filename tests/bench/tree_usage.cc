// Prints the resource usage of a process and its descendants, one line each,
// tab-separated: pid, name, RSS KiB, PSS KiB, threads, CPU seconds (user+system).
//   tree_usage PID
// Exit 1 if PID does not exist. Used by tools/bench.sh for the in-guest rows.

#include <cstdio>

#include "absl/strings/numbers.h"
#include "tests/bench/process_tree.h"

int main(int argc, char** argv) {
  pid_t pid = 0;
  if (argc != 2 || !absl::SimpleAtoi(argv[1], &pid) || pid <= 0) {
    fprintf(stderr, "usage: tree_usage PID\n");
    return 2;
  }
  absl::StatusOr<std::vector<virtiofsd::bench::ProcessUsage>> tree =
      virtiofsd::bench::ReadProcessTree(pid);
  if (!tree.ok()) {
    fprintf(stderr, "tree_usage: %s\n", tree.status().ToString().c_str());
    return 1;
  }
  for (const auto& p : *tree) {
    printf("%d\t%s\t%llu\t%llu\t%d\t%.2f\n", p.pid, p.name.c_str(),
           static_cast<unsigned long long>(p.rss_kib), static_cast<unsigned long long>(p.pss_kib),
           p.threads, p.cpu_seconds);
  }
  return 0;
}
