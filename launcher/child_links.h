// The launcher's side of the children's launcher links (common/launcher_link.h):
// one SOCK_SEQPACKET socket pair per child, the child's end passed at exec. The
// launcher keeps its ends for its whole life and never writes to them, so a child
// sees its link close exactly when the launcher is gone, even by SIGKILL.
//
// A thread relays the children's log records (to stderr, or to syslog), naming
// each line's process and its host pid. The pid is the kernel's
// (SCM_CREDENTIALS of the sender, as seen from the launcher), not the child's word,
// and names the process that really sent it, even from a pid namespace. A record
// that is not one (log_record.h) is dropped.

#ifndef VIRTIOFSD_LAUNCHER_CHILD_LINKS_H_
#define VIRTIOFSD_LAUNCHER_CHILD_LINKS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "common/unique_fd.h"

namespace virtiofsd {

class ChildLinks {
 public:
  enum Child { kBroker = 0, kFrontend = 1 };

  static absl::StatusOr<std::unique_ptr<ChildLinks>> Create();
  // Drains and stops the relay, then closes the launcher's ends.
  ~ChildLinks();
  ChildLinks(const ChildLinks&) = delete;
  ChildLinks& operator=(const ChildLinks&) = delete;

  // The end to pass to `child` at exec (borrowed).
  int child_end(Child child) const { return child_ends_[child].get(); }
  // Once both children hold their ends. With `keep_broker_end`, the broker's stays
  // open in the launcher, to pass to a broker started in place of one that died:
  // the link then never reads as closed to the launcher, and each broker sees it
  // close only when the launcher goes.
  void CloseChildEnds(bool keep_broker_end = false);
  // The launcher's own end of `child`'s link (borrowed): HandOverChannel() sends on it.
  int own_end(Child child) const { return own_ends_[child].get(); }

  // Where relayed lines go: the process's name, its host pid, the line.
  using Sink = std::function<void(absl::string_view process, pid_t pid, LogLevel level,
                                  absl::string_view message)>;
  // Relays the children's records to `sink` on a thread, until destroyed.
  void StartRelay(Sink sink);

 private:
  ChildLinks() = default;
  void Relay();
  // Reads and writes out every record waiting on `child`'s link; false once the
  // child's end is closed.
  bool RelayPending(Child child);

  UniqueFd child_ends_[2];
  UniqueFd own_ends_[2];
  UniqueFd stop_;  // eventfd: ends the relay
  Sink sink_;
  std::thread relay_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_LINKS_H_
