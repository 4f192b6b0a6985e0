// The SETLKW requests the frontend has in flight at the broker, so that they can
// be ended: by the guest's INTERRUPT (naming the FUSE unique), by a queue stop
// (GET_VRING_BASE must not wait for a lock a host process holds: the Linux driver
// sends no INTERRUPT), and by DESTROY or a new INIT (a rebooted guest's old waits).
// Ending a wait means sending the broker an InterruptRequest for the broker request
// serving it; the broker answers that request with EINTR, which ends the entry.
//
// Every entry ends exactly once, through End(), whatever the reply (success, an
// errno, a broken channel, a request never sent). At most kMaxLockWaits entries
// exist, as many as the broker's own waiter threads: a guest cannot grow this table.
//
// Thread-safe.

#ifndef VIRTIOFSD_FRONTEND_LOCK_WAITS_H_
#define VIRTIOFSD_FRONTEND_LOCK_WAITS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace virtiofsd {

inline constexpr size_t kMaxLockWaits = 64;

class LockWaits {
 public:
  // Registers a wait for FUSE request `unique` arriving on queue `queue`, before it
  // is sent. Returns its token, or nullopt when kMaxLockWaits are in flight.
  std::optional<uint64_t> Begin(uint64_t unique, int queue);

  // The broker request `broker_id` serves `token`. Returns true when the wait was
  // asked to end before its id was known: the caller interrupts it now. A token
  // already ended is ignored (the reply may come before Submit() returns).
  bool Attach(uint64_t token, uint64_t broker_id);

  // The wait's request is done (replied, failed, or never sent).
  void End(uint64_t token);

  // The broker request to interrupt for the guest's INTERRUPT of `unique`, if its
  // wait is in flight in the current session.
  std::optional<uint64_t> Interrupt(uint64_t unique);

  // Ends the waits of queue `queue`, or all of them (and they no longer answer to
  // their unique: a new session may reuse it). Returns the broker requests to
  // interrupt now; waits whose id is not known yet are interrupted by Attach().
  std::vector<uint64_t> EndQueue(int queue);
  std::vector<uint64_t> EndAll();

  size_t size();

 private:
  struct Wait {
    uint64_t unique;
    int queue;
    std::optional<uint64_t> broker_id;
    bool ending = false;    // asked to end: Attach() interrupts it
    bool detached = false;  // of an ended session: Interrupt() no longer finds it
  };

  // Marks the waits `match` selects as ending (and `detach`ed); returns the known
  // broker ids.
  template <typename Match>
  std::vector<uint64_t> EndMatching(Match match, bool detach);

  absl::Mutex mu_;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Wait> waits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_LOCK_WAITS_H_
