// The command lines of the two children, translated from the launcher's Options.
//
// Pure: no syscalls. Every setting that has a default is passed explicitly, so the
// children's own defaults never decide what the user asked for. The fd numbers are
// the launcher <-> child contract: the broker channel is fd 3 in both children, the
// vhost-user listening socket is fd 4 in the frontend, and each child's launcher
// link is fd 5.

#ifndef VIRTIOFSD_LAUNCHER_CHILD_ARGS_H_
#define VIRTIOFSD_LAUNCHER_CHILD_ARGS_H_

#include <string>
#include <vector>

#include "launcher/options.h"

namespace virtiofsd {

inline constexpr int kChildChannelFd = 3;
inline constexpr int kFrontendListenFd = 4;
// Each child's end of its launcher link (common/launcher_link.h).
inline constexpr int kChildLauncherFd = 5;

// argv[1..] of virtiofsd-broker (argv[0] is up to the caller).
std::vector<std::string> BrokerArguments(const Options& options);

// argv[1..] of virtiofsd-frontend.
std::vector<std::string> FrontendArguments(const Options& options);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_ARGS_H_
