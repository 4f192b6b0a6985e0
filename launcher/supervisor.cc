#include "launcher/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include <deque>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "launcher/stop_signals.h"

namespace virtiofsd {
namespace {

// How long to wait for the second child to end after the first one did.
constexpr absl::Duration kSettle = absl::Milliseconds(500);

// SIGTERM to each child still running, then SIGKILL to those left after `grace`.
void StopAll(ChildProcess& frontend, ChildProcess& broker, absl::Duration grace) {
  ChildProcess* children[] = {&frontend, &broker};
  for (ChildProcess* child : children) child->Signal(SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  for (ChildProcess* child : children) {
    while (!child->TryReap().has_value()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      pollfd pfd = {child->pidfd(), POLLIN, 0};
      poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    }
  }
  for (ChildProcess* child : children) {
    if (child->TryReap().has_value()) continue;
    child->Signal(SIGKILL);
    pollfd pfd = {child->pidfd(), POLLIN, 0};
    while (!child->TryReap().has_value()) poll(&pfd, 1, -1);
  }
}

}  // namespace

Verdict Supervise(ChildProcess& frontend, ChildProcess& first_broker, int signal_fd,
                  absl::Duration grace, const BrokerRestarts& restarts) {
  std::optional<ChildProcess> respawned;  // the broker that serves, once one was restarted
  std::deque<absl::Time> restart_times;   // within the last window
  pollfd fds[] = {
      {signal_fd, POLLIN, 0},
      {frontend.pidfd(), POLLIN, 0},
      {first_broker.pidfd(), POLLIN, 0},
  };
  // The verdict of a broker that ended while the frontend served on.
  std::optional<Verdict> broker_lost;
  for (;;) {
    if (poll(fds, std::size(fds), -1) < 0) {
      if (errno == EINTR) continue;
      Verdict verdict = {1, absl::StrCat("poll failed: ", strerror(errno))};
      StopAll(frontend, respawned.has_value() ? *respawned : first_broker, grace);
      return verdict;
    }
    if (std::optional<int> signal = ReadStopSignal(signal_fd)) {
      StopAll(frontend, respawned.has_value() ? *respawned : first_broker, grace);
      std::string message =
          absl::StrCat("received SIG", sigabbrev_np(*signal), "; stopped both processes");
      if (!broker_lost.has_value()) return {0, message};
      return {broker_lost->exit_code, absl::StrCat(message, " (the broker had ended before)")};
    }
    ChildProcess& broker = respawned.has_value() ? *respawned : first_broker;
    std::optional<ChildExit> frontend_exit = frontend.TryReap();
    if (broker_lost.has_value()) {
      if (!frontend_exit.has_value()) continue;
      return {broker_lost->exit_code, absl::StrCat("frontend ", DescribeExit(*frontend_exit),
                                                   " (the broker had ended before)")};
    }
    std::optional<ChildExit> broker_exit = broker.TryReap();
    if (frontend_exit.has_value() != broker_exit.has_value()) {
      // The other child usually follows within moments (its end of the channel
      // closed): judging both together blames the right one. A frontend exiting
      // 0 closes the channel before its exit is visible, so the broker's clean
      // exit can even be seen first.
      ChildProcess& other = frontend_exit.has_value() ? broker : frontend;
      pollfd pfd = {other.pidfd(), POLLIN, 0};
      poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(kSettle)));
      frontend_exit = frontend.TryReap();
      broker_exit = broker.TryReap();
    }
    std::optional<Verdict> verdict = JudgeExits(frontend_exit, broker_exit);
    // A broker that rejected its command line (2) never served: nothing to keep.
    if (broker_exit.has_value() && !frontend_exit.has_value() && verdict->exit_code != 2) {
      // The frontend serves a guest (before a VMM connects it ends with the
      // broker): stopping it would leave the guest waiting for ever.
      std::string why;
      if (restarts.respawn) {
        const absl::Time now = absl::Now();
        while (!restart_times.empty() && now - restart_times.front() >= restarts.window) {
          restart_times.pop_front();
        }
        if (static_cast<int>(restart_times.size()) < restarts.max) {
          absl::StatusOr<ChildProcess> next = restarts.respawn();
          if (next.ok()) {
            restart_times.push_back(now);
            VFSD_LOG(kError, "%s; started a new broker (pid %d) and the frontend carries on",
                     verdict->message, next->pid());
            respawned.reset();
            respawned.emplace(std::move(*next));
            fds[2].fd = respawned->pidfd();
            continue;
          }
          why = absl::StrCat("; cannot start a new broker: ", next.status().message());
        } else {
          why = absl::StrCat("; ", restarts.max, " restarts within ",
                             absl::FormatDuration(restarts.window), ", no more");
        }
      }
      broker_lost = verdict;
      VFSD_LOG(kError, "%s%s; the frontend answers the guest with EIO until the VMM disconnects",
               verdict->message, why);
      fds[2].fd = -1;  // reaped: poll() skips it
      continue;
    }
    if (verdict.has_value()) {
      StopAll(frontend, broker, grace);
      return *verdict;
    }
  }
}

}  // namespace virtiofsd
