// Runs one started virtqueue: a thread waits for the driver's kicks, pops every
// available chain and hands it to a ChainHandler; handlers complete chains from any
// thread through the PendingChain they were given, which puts the chain on the used
// ring and interrupts the driver when it asked for it.
//
// Stop() ends the thread, tells the handler (QueueStopping), waits until every chain
// handed out has completed (so no thread writes to guest memory afterwards), and
// returns the avail index to resume from (GET_VRING_BASE).

#ifndef VIRTIOFSD_FRONTEND_QUEUE_RUNNER_H_
#define VIRTIOFSD_FRONTEND_QUEUE_RUNNER_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "frontend/virtqueue.h"

namespace virtiofsd {

// Where a handled chain goes back to: the used ring of its queue (QueueRunner), or
// a test's collector.
class ChainCompleter {
 public:
  virtual ~ChainCompleter() = default;
  virtual void Complete(uint16_t head, uint32_t written) = 0;
  virtual int index() const = 0;
};

// One chain being handled. Move-only; completing it twice is impossible, and a
// PendingChain dropped without Complete() completes with 0 bytes written, so a chain
// is never lost to the driver.
class PendingChain {
 public:
  PendingChain(ChainCompleter* queue, DescriptorChain chain)
      : queue_(queue), chain_(std::move(chain)) {}
  PendingChain(PendingChain&& other) noexcept
      : queue_(std::exchange(other.queue_, nullptr)), chain_(std::move(other.chain_)) {}
  PendingChain& operator=(PendingChain&&) = delete;
  PendingChain(const PendingChain&) = delete;
  ~PendingChain();

  const DescriptorChain& chain() const { return chain_; }
  int queue_index() const;
  // Returns the chain to the driver with `written` device-writable bytes.
  void Complete(uint32_t written);

 private:
  ChainCompleter* queue_;
  DescriptorChain chain_;
};

class ChainHandler {
 public:
  virtual ~ChainHandler() = default;
  // Called on the queue's thread for each chain, in ring order.
  virtual void HandleChain(PendingChain chain) = 0;
  // Called when queue `queue` stops, after its last HandleChain() and before the
  // stop waits for its chains: a handler ends what would otherwise wait without
  // bound (lock waits).
  virtual void QueueStopping(int queue) {}
  // Called on the queue's thread in each of its waking spells: BeginPass() when it
  // wakes, before the first HandleChain(); AwaitReplies() each time it has handed
  // out every available chain (a handler may wait here, briefly and without
  // blocking, for the replies its chains are due, returning early once
  // `chains_available()`); EndPass() before it sleeps until the next kick.
  virtual void BeginPass() {}
  virtual void AwaitReplies(absl::FunctionRef<bool()> chains_available) {}
  virtual void EndPass() {}
};

class QueueRunner : public ChainCompleter {
 public:
  // Starts the thread. `kick` is the driver's kick eventfd; `call` (may be invalid)
  // the interrupt eventfd.
  QueueRunner(int index, std::unique_ptr<Virtqueue> queue, UniqueFd kick, UniqueFd call,
              ChainHandler& handler);
  ~QueueRunner() override;  // Stop()s if still running.
  QueueRunner(const QueueRunner&) = delete;
  QueueRunner& operator=(const QueueRunner&) = delete;

  // Replaces the interrupt eventfd (SET_VRING_CALL while running).
  void SetCall(UniqueFd call);

  // Stops the thread, waits for every pending chain, returns the next avail index.
  uint16_t Stop();

  int index() const override { return index_; }
  void Complete(uint16_t head, uint32_t written) override;

 private:
  void Run();
  // Hands out every available chain; false when the queue broke.
  bool Drain();

  const int index_;
  std::unique_ptr<Virtqueue> queue_;
  UniqueFd kick_;
  UniqueFd stop_;  // eventfd that wakes Run() to exit.
  ChainHandler& handler_;

  absl::Mutex used_mu_;
  UniqueFd call_ ABSL_GUARDED_BY(used_mu_);
  int pending_ ABSL_GUARDED_BY(used_mu_) = 0;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_QUEUE_RUNNER_H_
