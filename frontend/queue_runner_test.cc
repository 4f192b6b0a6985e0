#include "frontend/queue_runner.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/status_matchers.h"
#include "frontend/guest_memory.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

constexpr uint64_t kUserBase = 0x7f0000000000;
constexpr uint16_t kSize = 16;
constexpr uint64_t kDesc = 0x0, kAvail = 0x1000, kUsed = 0x2000, kData = 0x10000;

// Records the calls the runner makes; completes the chains it holds only in
// AwaitReplies(), as a handler does that takes its replies there. In its first
// AwaitReplies() the driver makes one more chain available.
class RecordingHandler : public ChainHandler {
 public:
  explicit RecordingHandler(std::function<void()> publish_more)
      : publish_more_(std::move(publish_more)) {}

  void HandleChain(PendingChain chain) override {
    Record("chain " + std::to_string(chain.chain().head));
    held_.push_back(std::move(chain));
  }
  void BeginPass() override { Record("begin"); }
  void AwaitReplies(absl::FunctionRef<bool()> chains_available) override {
    Record("await");
    for (PendingChain& chain : held_) chain.Complete(0);
    held_.clear();
    if (!published_) {
      published_ = true;
      publish_more_();
      if (chains_available()) Record("more");
    }
  }
  void EndPass() override { Record("end"); }

  void AwaitEnd() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<std::string>* calls) { return !calls->empty() && calls->back() == "end"; },
        &calls_));
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  void Record(std::string call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }

  std::function<void()> publish_more_;
  bool published_ = false;
  std::vector<PendingChain> held_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

TEST(QueueRunnerTest, HandlerAwaitsRepliesAfterEachDrainAndChainsArrivingMeanwhileJoinThePass) {
  UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
  ASSERT_EQ(ftruncate(fd.get(), 1 << 20), 0);
  ASSERT_OK_AND_ASSIGN(auto region, MappedRegion::Map({0, 1 << 20, kUserBase, 0}, std::move(fd)));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const GuestMemory> memory, GuestMemory().With(region));
  auto at = [&](uint64_t gpa, size_t size) { return memory->TranslateGuest(gpa, size); };
  auto publish = [&](uint16_t head) {
    auto* desc =
        reinterpret_cast<vring_desc*>(at(kDesc + head * sizeof(vring_desc), sizeof(vring_desc)));
    *desc = vring_desc{kData + head * 0x100, 64, VRING_DESC_F_WRITE, 0};
    auto* avail = reinterpret_cast<vring_avail*>(at(kAvail, sizeof(vring_avail)));
    reinterpret_cast<uint16_t*>(at(kAvail + 4, 2 * kSize))[avail->idx % kSize] = head;
    __atomic_store_n(&avail->idx, static_cast<uint16_t>(avail->idx + 1), __ATOMIC_RELEASE);
  };
  ASSERT_OK_AND_ASSIGN(
      auto queue,
      Virtqueue::Create({kSize, kUserBase + kDesc, kUserBase + kAvail, kUserBase + kUsed}, 0,
                        /*event_idx=*/true, /*indirect=*/false, memory));
  for (uint16_t head = 0; head < 3; ++head) publish(head);
  RecordingHandler handler([&] { publish(3); });
  QueueRunner runner(1, std::move(queue), UniqueFd(eventfd(0, EFD_CLOEXEC)), UniqueFd(), handler);
  handler.AwaitEnd();
  EXPECT_EQ(runner.Stop(), 4);
  EXPECT_EQ(handler.calls(),
            (std::vector<std::string>{"begin", "chain 0", "chain 1", "chain 2", "await", "more",
                                      "chain 3", "await", "end"}));
  auto* used = reinterpret_cast<vring_used*>(at(kUsed, sizeof(vring_used)));
  EXPECT_EQ(used->idx, 4);
}

}  // namespace
}  // namespace virtiofsd
