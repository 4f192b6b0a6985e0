// The signals that stop the daemon cleanly (SIGTERM, SIGINT, SIGHUP), delivered
// through a signalfd so the supervisor can wait for them and for its children in
// one poll().

#ifndef VIRTIOFSD_LAUNCHER_STOP_SIGNALS_H_
#define VIRTIOFSD_LAUNCHER_STOP_SIGNALS_H_

#include <optional>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace virtiofsd {

// Blocks the stop signals in the calling thread (call it before any thread or
// child is started: both inherit the mask; ChildProcess clears it for children)
// and returns a non-blocking, close-on-exec signalfd that reads them.
absl::StatusOr<UniqueFd> BlockStopSignals();

// The next pending stop signal read from `signal_fd`, or nullopt if none.
std::optional<int> ReadStopSignal(int signal_fd);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_STOP_SIGNALS_H_
