// Watches the two children and the stop signals, and ends the daemon as the Rust
// virtiofsd would: the first of these events decides.
//
//   SIGTERM/SIGINT/SIGHUP    stop both children; exit 0
//   frontend exits 0         the VMM disconnected: stop the broker; exit 0
//   a child ends otherwise   stop the other; exit 1 (2 if it rejected its options),
//                            with a message naming the child and how it ended
//
// When one child ends, the other is given half a second to end too (it usually
// does, seeing the channel close) so both are judged together (see JudgeExits).
// A frontend still running then has a guest to serve: when the broker has ended
// (other than by rejecting its command line), that is logged at once (the one
// line naming how the broker ended) and the frontend is left to answer the
// guest with EIO until the VMM disconnects; its exit, or a stop signal, then
// ends the command with the broker's verdict (exit 1: the guest lost every
// request since). "Stop" is SIGTERM, then SIGKILL after `grace`. Both children
// are reaped before Supervise() returns.
//
// With `restarts`, a broker that ends while the frontend serves (other than by
// rejecting its configuration) is replaced instead: `restarts.respawn` starts a
// fresh one and hands the frontend its channel, which carries on; how the broker
// ended and that a new one started are logged once, in one line. At most
// `restarts.max` restarts fall within any `restarts.window`; past that (or when
// the respawn fails) the frontend is left answering EIO, as above. A daemon whose
// broker was replaced ends as if it never died.

#ifndef VIRTIOFSD_LAUNCHER_SUPERVISOR_H_
#define VIRTIOFSD_LAUNCHER_SUPERVISOR_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "launcher/child_exit.h"
#include "launcher/child_process.h"

namespace virtiofsd {

struct BrokerRestarts {
  // Starts a new broker and hands the frontend its channel; empty: no restarts.
  std::function<absl::StatusOr<ChildProcess>()> respawn;
  int max = 3;
  absl::Duration window = absl::Minutes(1);
};

// `signal_fd` is from BlockStopSignals(). Returns the command's exit status and
// the one line to log about why it ends.
Verdict Supervise(ChildProcess& frontend, ChildProcess& broker, int signal_fd, absl::Duration grace,
                  const BrokerRestarts& restarts = {});

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_SUPERVISOR_H_
