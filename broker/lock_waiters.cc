#include "broker/lock_waiters.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <thread>

#include "absl/time/time.h"

namespace virtiofsd {
namespace {

// The signal that interrupts a waiter. Its handler does nothing: the point is
// that the blocking syscall returns EINTR instead of restarting.
constexpr int kInterruptSignal = SIGUSR2;

void IgnoreSignal(int) {}

void InstallInterruptHandler() {
  struct sigaction action = {};
  action.sa_handler = IgnoreSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // No SA_RESTART.
  sigaction(kInterruptSignal, &action, nullptr);
}

}  // namespace

LockWaiters::LockWaiters(size_t max_waiters) : max_waiters_(max_waiters) {
  InstallInterruptHandler();
}

LockWaiters::~LockWaiters() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  for (auto& [id, waiter] : waiters_) waiter->interrupted = true;
  while (running_ > 0) {
    for (auto& [id, waiter] : waiters_) {
      if (!waiter->finished) pthread_kill(waiter->thread, kInterruptSignal);
    }
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](size_t* running) { return *running == 0; }, &running_),
                         absl::Milliseconds(1));
  }
}

int LockWaiters::Start(uint64_t id, std::function<int()> wait, std::function<void(int)> done) {
  auto waiter = std::make_shared<Waiter>();
  absl::MutexLock lock(&mu_);
  if (running_ >= max_waiters_ || stopping_) return ENOLCK;
  ++running_;
  auto early = std::find(early_interrupts_.begin(), early_interrupts_.end(), id);
  if (early != early_interrupts_.end()) {
    early_interrupts_.erase(early);
    waiter->interrupted = true;
  }
  waiters_[id] = waiter;
  std::thread thread(&LockWaiters::Run, this, id, waiter, std::move(wait), std::move(done));
  waiter->thread = thread.native_handle();
  thread.detach();  // Its end is tracked by running_.
  return 0;
}

void LockWaiters::Run(uint64_t id, std::shared_ptr<Waiter> waiter, std::function<int()> wait,
                      std::function<void(int)> done) {
  {
    // Start() stores the thread id after creating us; wait until it has.
    absl::MutexLock lock(&mu_);
  }
  // EINTR from a signal that was not ours (or came early) waits again.
  int err = EINTR;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (waiter->interrupted) break;
    }
    err = wait();
    if (err != EINTR) break;
  }
  {
    absl::MutexLock lock(&mu_);
    waiter->finished = true;
    auto it = waiters_.find(id);
    if (it != waiters_.end() && it->second == waiter) waiters_.erase(it);
  }
  done(err);
  // What the closures hold (open files, budget tokens) must go before the
  // destructor can see this waiter finished and its owner be destroyed.
  wait = nullptr;
  done = nullptr;
  absl::MutexLock lock(&mu_);
  --running_;
}

void LockWaiters::Interrupt(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) {
    constexpr size_t kRemembered = 64;
    early_interrupts_.push_back(id);
    if (early_interrupts_.size() > kRemembered) early_interrupts_.pop_front();
    return;
  }
  std::shared_ptr<Waiter> waiter = it->second;
  InterruptLocked(*waiter);
}

void LockWaiters::InterruptLocked(Waiter& waiter) {
  waiter.interrupted = true;
  // A signal that lands just before the waiter blocks is lost, so repeat it
  // until the waiter has seen the flag.
  while (!waiter.finished) {
    pthread_kill(waiter.thread, kInterruptSignal);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](bool* finished) { return *finished; }, &waiter.finished),
                         absl::Milliseconds(1));
  }
}

size_t LockWaiters::count() {
  absl::MutexLock lock(&mu_);
  return running_;
}

}  // namespace virtiofsd
