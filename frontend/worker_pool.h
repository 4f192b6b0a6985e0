// A fixed set of threads running queued tasks in FIFO order: --thread-pool-size
// workers for READ and WRITE, so a queue thread does not wait for file I/O while
// more requests are ready. Destruction runs every queued task, then joins.

#ifndef VIRTIOFSD_FRONTEND_WORKER_POOL_H_
#define VIRTIOFSD_FRONTEND_WORKER_POOL_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace virtiofsd {

class WorkerPool {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  // Starts `threads` (>= 1) workers.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task` to run on some worker. Thread-safe.
  void Schedule(Task task);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_WORKER_POOL_H_
