// How a confined child (broker, frontend) ends on the launcher's stop signals.

#ifndef VIRTIOFSD_COMMON_STOP_SIGNAL_EXIT_H_
#define VIRTIOFSD_COMMON_STOP_SIGNAL_EXIT_H_

namespace virtiofsd {

// SIGTERM and SIGINT end the process at once with _exit(128 + the signal). A
// handler is needed: as init of its PID namespace a process ignores signals it has
// none for. Call once at start-up, before any thread exists.
void ExitOnStopSignals();

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_STOP_SIGNAL_EXIT_H_
