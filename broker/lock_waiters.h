// Requests whose answer waits for a lock (SETLKW, blocking flock): each runs on a
// thread of its own so the serving threads keep answering, and INTERRUPT ends one
// early with EINTR by signalling its thread (the blocking fcntl/flock returns
// EINTR: the signal's handler is installed without SA_RESTART).
//
// Thread-safe. The destructor interrupts every waiter and waits until each has
// called its `done`.

#ifndef VIRTIOFSD_BROKER_LOCK_WAITERS_H_
#define VIRTIOFSD_BROKER_LOCK_WAITERS_H_

#include <pthread.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace virtiofsd {

class LockWaiters {
 public:
  // At most `max_waiters` at once (each is a thread).
  explicit LockWaiters(size_t max_waiters);
  ~LockWaiters();

  LockWaiters(const LockWaiters&) = delete;
  LockWaiters& operator=(const LockWaiters&) = delete;

  // Runs `wait` (returns an errno; EINTR when a signal cut it short) until it
  // finishes or request `id` is interrupted, then `done(errno)` on that thread.
  // Returns 0, or ENOLCK when too many waiters exist (`done` is then not called).
  int Start(uint64_t id, std::function<int()> wait, std::function<void(int)> done);

  // Makes waiter `id` answer EINTR soon. An INTERRUPT may be served before its
  // target (another serving thread has not registered it yet), so the last few
  // unknown ids are remembered and a waiter starting with one of them answers
  // EINTR at once.
  void Interrupt(uint64_t id);

  size_t count();

 private:
  struct Waiter {
    pthread_t thread;
    bool interrupted = false;  // Guarded by mu_.
    bool finished = false;     // Guarded by mu_; the thread is alive until set.
  };

  void Run(uint64_t id, std::shared_ptr<Waiter> waiter, std::function<int()> wait,
           std::function<void(int)> done);
  // Signals the waiter until it has finished (mu_ held).
  void InterruptLocked(Waiter& waiter) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_waiters_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> early_interrupts_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_LOCK_WAITERS_H_
