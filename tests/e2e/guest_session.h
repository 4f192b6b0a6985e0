// A real-guest run whose script can ask the host to act while it runs: the guest writes a
// request into the share's .sync directory and waits for the answer, the host carries it out
// in between. This is how the load and soak tests change files under a mounted guest and
// measure the daemon at chosen moments. The guest side is this function (busybox sh, in /mnt):
//
//   host() { # host REQUEST: the host carries it out; prints its answer
//     n=$(($(cat /tmp/.host-n 2>/dev/null || echo 0) + 1)) && echo $n >/tmp/.host-n
//     r=$(cat /proc/sys/kernel/random/boot_id)-$n-$RANDOM
//     echo "$*" >.sync/req-$r.tmp && mv .sync/req-$r.tmp .sync/req-$r
//     while ! [ -e .sync/ack-$r ]; do usleep 20000; done
//     cat .sync/ack-$r
//   }
//
// Names are never reused (boot, count, a random part), so no cache mode can show the guest a stale
// answer: a name looked up in vain is not remembered (the daemon answers ENOENT, which the
// guest does not cache), and several guest processes may ask at once.

#ifndef VIRTIOFSD_TESTS_E2E_GUEST_SESSION_H_
#define VIRTIOFSD_TESTS_E2E_GUEST_SESSION_H_

#include <functional>
#include <string>

namespace virtiofsd::e2e {

struct GuestSessionOptions {
  std::string daemon;      // run_guest.sh --daemon: a command with {socket} and {dir}
  std::string share;       // the shared directory (exists)
  std::string script;      // the guest script's path
  std::string extra_args;  // more run_guest.sh arguments, shell-quoted (e.g. "--allow-reboot")
  std::string logs;        // where run_guest.sh keeps its logs
  int timeout_seconds = 300;
};

// Called on the host for each request, in order; returns the answer the guest reads.
using HostHandler = std::function<std::string(const std::string& request)>;

struct GuestSessionResult {
  int status = -1;     // run_guest.sh's exit status
  std::string output;  // the guest script's output
  std::string log;     // run_guest.sh's stderr
  int requests = 0;    // how many requests the host answered
};

// Makes share/.sync, runs tools/guest/run_guest.sh (a runfile) and answers requests with
// `handler` until it ends. A request naming no handler's business is the handler's to refuse
// (e.g. answer "unknown request").
GuestSessionResult RunGuestSession(const GuestSessionOptions& options, const HostHandler& handler);

// The usual answer to a request that is a shell command: runs it with sh in `dir`, and answers
// its exit status and output ("0\n..." ).
std::string RunInDir(const std::string& dir, const std::string& command);

// The daemon's processes (the launcher whose command line names `share`, and all its
// descendants) summed: resident memory, open descriptors, threads.
struct DaemonFootprint {
  int processes = 0;
  long rss_kib = 0;
  int fds = 0;
  int threads = 0;
};
DaemonFootprint MeasureDaemon(const std::string& share);
std::string ToString(const DaemonFootprint& footprint);

}  // namespace virtiofsd::e2e

#endif  // VIRTIOFSD_TESTS_E2E_GUEST_SESSION_H_
