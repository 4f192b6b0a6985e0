#include "common/stop_signal_exit.h"

#include <signal.h>
#include <unistd.h>

namespace virtiofsd {

void ExitOnStopSignals() {
  struct sigaction action = {};
  action.sa_handler = [](int signal) { _exit(128 + signal); };
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

}  // namespace virtiofsd
