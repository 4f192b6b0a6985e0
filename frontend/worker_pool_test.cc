#include "frontend/worker_pool.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskOnItsThreads) {
  WorkerPool pool(3);
  absl::BlockingCounter done(100);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  for (int i = 0; i < 100; ++i) {
    pool.Schedule([&] {
      {
        absl::MutexLock lock(&mu);
        threads.insert(std::this_thread::get_id());
      }
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_LE(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(WorkerPoolTest, DestructionRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(1);
    for (int i = 0; i < 50; ++i) pool.Schedule([&] { ++ran; });
  }
  EXPECT_EQ(ran, 50);
}

}  // namespace
}  // namespace virtiofsd
