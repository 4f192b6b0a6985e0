// How a child of the launcher ended, and what that means for the whole command.
//
// Pure: the rules that turn "the frontend exited with status 0" (the VMM
// disconnected: a clean stop, as in the Rust daemon) or "the broker was killed by
// SIGKILL" (a failure) into the command's exit status and its one-line message.

#ifndef VIRTIOFSD_LAUNCHER_CHILD_EXIT_H_
#define VIRTIOFSD_LAUNCHER_CHILD_EXIT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace virtiofsd {

struct ChildExit {
  enum class Kind { kExited, kKilled };
  Kind kind = Kind::kExited;
  int value = 0;  // the exit status, or the signal number
  bool core_dumped = false;
};

// "exited with status 3", "was killed by signal 9 (SIGKILL)".
std::string DescribeExit(const ChildExit& exit);

enum class ChildRole { kFrontend, kBroker };
absl::string_view RoleName(ChildRole role);  // "frontend", "broker"

struct Verdict {
  int exit_code;        // for the virtiofsd command
  std::string message;  // one line naming the child and what happened
};

// The command's verdict when `role` is the first child to end, on its own (not
// because the launcher stopped it). Only the frontend exiting 0 is a clean end;
// a child exiting 2 rejected its command line, which the command reports as 2;
// anything else is a failure (1).
Verdict JudgeFirstExit(ChildRole role, const ChildExit& exit);

// The verdict once one or both children have ended (nullopt while both run).
// When both are seen ended at once: both exiting 0 is a clean end; otherwise the
// likelier cause (killed by a signal, else exited 2, else exited non-zero, else
// the frontend) is named first with its verdict, and the other is mentioned.
std::optional<Verdict> JudgeExits(const std::optional<ChildExit>& frontend,
                                  const std::optional<ChildExit>& broker);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_EXIT_H_
