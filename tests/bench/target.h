// What fuse_bench measures a workload against: a vhost-user-fs daemon driven as a
// guest would drive it (DaemonTarget), or the host's own syscalls on the same
// directory, the limit no daemon can pass (NativeTarget).

#ifndef VIRTIOFSD_TESTS_BENCH_TARGET_H_
#define VIRTIOFSD_TESTS_BENCH_TARGET_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/workload.h"

namespace virtiofsd::bench {

class Target {
 public:
  virtual ~Target() = default;
  // Warms up briefly, then runs `workload` for `duration`. Every reply is
  // checked; a failure is Result::error. A daemon target runs only workloads of
  // the queue count it was started with.
  virtual Result Run(const Workload& workload, absl::Duration duration) = 0;
  // The process whose tree is the target (none for the host's syscalls).
  virtual std::optional<pid_t> pid() const = 0;
  // The daemon's output so far ("" for the host's syscalls).
  virtual std::string Log() const = 0;
};

// Starts `command` ("{socket}", "{dir}" and "{queues}" filled in, split on
// spaces) on `share`, connects the driver with QEMU 7.2's negotiation for
// `queues` request queues and INITs. `work_dir` holds the socket and the daemon's
// log. kFailedPrecondition names a daemon that offers fewer queues.
absl::StatusOr<std::unique_ptr<Target>> StartDaemonTarget(const std::string& command,
                                                          const Share& share,
                                                          const std::string& work_dir, int queues);

absl::StatusOr<std::unique_ptr<Target>> StartNativeTarget(const Share& share);

}  // namespace virtiofsd::bench

#endif  // VIRTIOFSD_TESTS_BENCH_TARGET_H_
