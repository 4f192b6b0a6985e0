#include "launcher/child_exit.h"

#include <string.h>

#include "absl/strings/str_cat.h"

namespace virtiofsd {

std::string DescribeExit(const ChildExit& exit) {
  if (exit.kind == ChildExit::Kind::kExited) {
    return absl::StrCat("exited with status ", exit.value);
  }
  const char* name = sigabbrev_np(exit.value);
  return absl::StrCat("was killed by signal ", exit.value, name ? " (SIG" : "", name ? name : "",
                      name ? ")" : "", exit.core_dumped ? ", core dumped" : "");
}

absl::string_view RoleName(ChildRole role) {
  return role == ChildRole::kFrontend ? "frontend" : "broker";
}

Verdict JudgeFirstExit(ChildRole role, const ChildExit& exit) {
  const bool exited = exit.kind == ChildExit::Kind::kExited;
  if (role == ChildRole::kFrontend && exited && exit.value == 0) {
    return {0, "frontend exited: the VMM disconnected"};
  }
  std::string message = absl::StrCat(RoleName(role), " ", DescribeExit(exit));
  if (exited && exit.value == 2) {
    return {2, absl::StrCat(message, ": it rejected its command line")};
  }
  if (role == ChildRole::kBroker && exited && exit.value == 0) {
    return {1, absl::StrCat(message, " while the frontend was running")};
  }
  return {1, message};
}

std::optional<Verdict> JudgeExits(const std::optional<ChildExit>& frontend,
                                  const std::optional<ChildExit>& broker) {
  if (!frontend.has_value() && !broker.has_value()) return std::nullopt;
  if (!broker.has_value()) return JudgeFirstExit(ChildRole::kFrontend, *frontend);
  if (!frontend.has_value()) return JudgeFirstExit(ChildRole::kBroker, *broker);
  // Both ended before we looked: usually one failed and the other followed when
  // the channel closed. The likelier cause is named first: killed by a signal,
  // then rejected its options (2), then any other failure; a tie blames the
  // frontend. The message names both.
  auto rank = [](const ChildExit& e) {
    if (e.kind == ChildExit::Kind::kKilled) return 3;
    return e.value == 2 ? 2 : (e.value != 0 ? 1 : 0);
  };
  if (rank(*frontend) == 0 && rank(*broker) == 0) {
    return JudgeFirstExit(ChildRole::kFrontend, *frontend);
  }
  const bool broker_first = rank(*broker) > rank(*frontend);
  const ChildRole cause = broker_first ? ChildRole::kBroker : ChildRole::kFrontend;
  const ChildExit& cause_exit = broker_first ? *broker : *frontend;
  const ChildExit& other_exit = broker_first ? *frontend : *broker;
  Verdict verdict = JudgeFirstExit(cause, cause_exit);
  absl::StrAppend(&verdict.message, " (and the ",
                  RoleName(broker_first ? ChildRole::kFrontend : ChildRole::kBroker), " ",
                  DescribeExit(other_exit), ")");
  return verdict;
}

}  // namespace virtiofsd
