// One real-guest run for the fault tests (tests/e2e/fault_*_test.cc): boots the test
// guest with tools/guest/run_guest.sh against a daemon and, while it runs, lets the
// test do harm on the host at the moment the guest asks for it (the guest creates a
// trigger file in the share): kill the broker, kill QEMU. The processes of the run
// are found from run_guest.sh's pid, never by name alone.

#ifndef VIRTIOFSD_TESTS_E2E_FAULT_RUN_H_
#define VIRTIOFSD_TESTS_E2E_FAULT_RUN_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace virtiofsd::e2e {

struct FaultRun {
  std::string error;   // why the run did not happen as asked; empty when it did
  int exit_code = -1;  // run_guest.sh's
  std::string output;  // the guest script's
  std::string log;     // run_guest.sh's stderr (its summary)
  std::string daemon_log;
  std::string console;                       // the guest's console: markers, kernel messages
  std::map<std::string, std::string> cases;  // the script's CASE lines (harness.h)
  std::string acted;                         // what `act` reported
};

struct FaultRunOptions {
  std::string name;     // for the log directory
  std::string daemon;   // run_guest.sh --daemon: {socket} and {dir} are filled in
  std::string share;    // an existing directory
  std::string script;   // a runfile path, e.g. "tests/e2e/fault_limits.sh"
  int timeout_s = 150;  // run_guest.sh --timeout
  // When the guest creates <share>/<trigger>, `act` runs once with run_guest.sh's
  // pid; it returns what it did (or why it could not), for FaultRun::acted.
  std::string trigger;
  std::function<std::string(pid_t run_guest)> act;
};

// Runs the guest (fails, saying so, when tools/guest/prepare.sh has not made it).
FaultRun RunFaultGuest(const FaultRunOptions& options);

// The descendants of `pid`, parents before children.
std::vector<pid_t> Descendants(pid_t pid);

// The file name of /proc/PID/exe ("" if it cannot be read).
std::string ExeName(pid_t pid);

// Whether `pid` has ended (gone, or a zombie).
bool Ended(pid_t pid);

// Occurrences of `what` in `text`.
int Count(const std::string& text, const std::string& what);

}  // namespace virtiofsd::e2e

#endif  // VIRTIOFSD_TESTS_E2E_FAULT_RUN_H_
