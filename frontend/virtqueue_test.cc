#include "frontend/virtqueue.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

constexpr uint64_t kUserBase = 0x7f0000000000;
constexpr uint16_t kSize = 16;
constexpr uint64_t kDesc = 0x0, kAvail = 0x1000, kUsed = 0x2000, kIndirect = 0x3000;
constexpr uint64_t kData = 0x10000;

// Plays the guest driver on a memfd-backed ring.
class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
    ASSERT_EQ(ftruncate(fd.get(), 1 << 20), 0);
    ASSERT_OK_AND_ASSIGN(auto region, MappedRegion::Map({0, 1 << 20, kUserBase, 0}, std::move(fd)));
    ASSERT_OK_AND_ASSIGN(memory_, GuestMemory().With(region));
  }

  std::unique_ptr<Virtqueue> Create(bool event_idx = false, bool indirect = true) {
    auto queue =
        Virtqueue::Create({kSize, kUserBase + kDesc, kUserBase + kAvail, kUserBase + kUsed}, 0,
                          event_idx, indirect, memory_);
    EXPECT_OK(queue.status());
    return queue.ok() ? *std::move(queue) : nullptr;
  }

  template <typename T>
  T* At(uint64_t gpa) {
    return reinterpret_cast<T*>(memory_->TranslateGuest(gpa, sizeof(T)));
  }
  void SetDesc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
               uint16_t next) {
    *At<vring_desc>(table + i * sizeof(vring_desc)) = vring_desc{addr, len, flags, next};
  }
  void Publish(uint16_t head) {
    auto* avail = At<vring_avail>(kAvail);
    uint16_t* ring = reinterpret_cast<uint16_t*>(memory_->TranslateGuest(kAvail + 4, 2 * kSize));
    ring[avail->idx % kSize] = head;
    avail->idx++;
  }
  uint16_t UsedIdx() { return At<vring_used>(kUsed)->idx; }
  vring_used_elem UsedElem(uint16_t i) {
    return *At<vring_used_elem>(kUsed + 4 + (i % kSize) * sizeof(vring_used_elem));
  }

  absl::StatusOr<DescriptorChain> PopChain(Virtqueue& queue) {
    auto head = queue.PopAvail();
    if (!head.ok()) return head.status();
    if (!head->has_value()) return absl::NotFoundError("nothing available");
    return queue.ReadChain(**head);
  }

  std::shared_ptr<const GuestMemory> memory_;
};

TEST_F(VirtqueueTest, ReadsAChainAndReturnsIt) {
  auto queue = Create();
  memcpy(memory_->TranslateGuest(kData, 5), "hello", 5);
  SetDesc(kDesc, 0, kData, 5, VRING_DESC_F_NEXT, 1);
  SetDesc(kDesc, 1, kData + 0x100, 64, VRING_DESC_F_WRITE, 0);
  Publish(0);
  ASSERT_OK_AND_ASSIGN(DescriptorChain chain, PopChain(*queue));
  EXPECT_EQ(chain.head, 0);
  ASSERT_EQ(chain.readable.size(), 1u);
  EXPECT_EQ(std::string(static_cast<char*>(chain.readable[0].iov_base), 5), "hello");
  ASSERT_EQ(chain.writable.size(), 1u);
  EXPECT_EQ(chain.writable_bytes, 64u);
  EXPECT_EQ(chain.writable[0].iov_base, memory_->TranslateGuest(kData + 0x100, 1));
  ASSERT_OK_AND_ASSIGN(auto nothing, queue->PopAvail());
  EXPECT_FALSE(nothing.has_value());

  queue->PushUsed(0, 10);
  EXPECT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedElem(0).id, 0u);
  EXPECT_EQ(UsedElem(0).len, 10u);
  EXPECT_TRUE(queue->NeedsInterrupt());
  EXPECT_EQ(queue->next_avail(), 1);
}

TEST_F(VirtqueueTest, RefusesALoop) {
  auto queue = Create();
  SetDesc(kDesc, 0, kData, 8, VRING_DESC_F_NEXT, 1);
  SetDesc(kDesc, 1, kData, 8, VRING_DESC_F_NEXT, 0);
  Publish(0);
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VirtqueueTest, RefusesOutOfRangeIndexesAndAddresses) {
  auto queue = Create();
  SetDesc(kDesc, 0, kData, 8, VRING_DESC_F_NEXT, kSize);  // next beyond the table
  Publish(0);
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
  SetDesc(kDesc, 1, (1 << 20) - 4, 8, 0, 0);  // runs past the end of memory
  Publish(1);
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
  SetDesc(kDesc, 2, UINT64_MAX - 2, 8, 0, 0);  // wraps around
  Publish(2);
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
  Publish(kSize + 3);  // a head beyond the table
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VirtqueueTest, RefusesReadableAfterWritable) {
  auto queue = Create();
  SetDesc(kDesc, 0, kData, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
  SetDesc(kDesc, 1, kData + 8, 8, 0, 0);
  Publish(0);
  EXPECT_THAT(PopChain(*queue), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VirtqueueTest, SkipsZeroLengthDescriptors) {
  auto queue = Create();
  SetDesc(kDesc, 0, 0xdeadbeef000, 0, VRING_DESC_F_NEXT, 1);
  SetDesc(kDesc, 1, kData, 8, 0, 0);
  Publish(0);
  ASSERT_OK_AND_ASSIGN(DescriptorChain chain, PopChain(*queue));
  EXPECT_EQ(chain.readable.size(), 1u);
  EXPECT_EQ(chain.readable_bytes, 8u);
}

TEST_F(VirtqueueTest, WalksIndirectTables) {
  auto queue = Create();
  SetDesc(kIndirect, 0, kData, 40, VRING_DESC_F_NEXT, 1);
  SetDesc(kIndirect, 1, kData + 0x100, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
  SetDesc(kIndirect, 2, kData + 0x200, 4096, VRING_DESC_F_WRITE, 0);
  SetDesc(kDesc, 0, kIndirect, 3 * sizeof(vring_desc), VRING_DESC_F_INDIRECT, 0);
  Publish(0);
  ASSERT_OK_AND_ASSIGN(DescriptorChain chain, PopChain(*queue));
  EXPECT_EQ(chain.readable_bytes, 40u);
  EXPECT_EQ(chain.writable_bytes, 16u + 4096u);
  EXPECT_EQ(chain.writable.size(), 2u);
}

TEST_F(VirtqueueTest, RefusesBadIndirectTables) {
  auto no_indirect = Create(false, /*indirect=*/false);
  SetDesc(kIndirect, 0, kData, 8, 0, 0);
  SetDesc(kDesc, 0, kIndirect, sizeof(vring_desc), VRING_DESC_F_INDIRECT, 0);
  Publish(0);
  EXPECT_THAT(PopChain(*no_indirect), StatusIs(absl::StatusCode::kInvalidArgument));

  auto queue = Create();  // Starts at avail index 0 again.
  ASSERT_OK_AND_ASSIGN(auto head, queue->PopAvail());
  SetDesc(kIndirect, 0, kIndirect, sizeof(vring_desc), VRING_DESC_F_INDIRECT, 0);  // nested
  EXPECT_THAT(queue->ReadChain(*head), StatusIs(absl::StatusCode::kInvalidArgument));
  SetDesc(kIndirect, 0, kData, 8, VRING_DESC_F_NEXT, 0);  // loops on itself
  EXPECT_THAT(queue->ReadChain(*head), StatusIs(absl::StatusCode::kInvalidArgument));
  SetDesc(kDesc, 0, kIndirect, 7, VRING_DESC_F_INDIRECT, 0);  // not a whole descriptor
  EXPECT_THAT(queue->ReadChain(*head), StatusIs(absl::StatusCode::kInvalidArgument));
  SetDesc(kDesc, 0, kIndirect, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
  EXPECT_THAT(queue->ReadChain(*head), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VirtqueueTest, CorruptAvailIndexBreaksTheQueue) {
  auto queue = Create();
  At<vring_avail>(kAvail)->idx = kSize + 1;
  EXPECT_THAT(queue->PopAvail(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(VirtqueueTest, EventIdxControlsInterruptsAndKicks) {
  auto queue = Create(/*event_idx=*/true);
  uint16_t* used_event =
      reinterpret_cast<uint16_t*>(memory_->TranslateGuest(kAvail + 4 + 2 * kSize, 2));
  *used_event = 1;  // Interrupt once the used index passes 1.
  SetDesc(kDesc, 0, kData, 8, 0, 0);
  SetDesc(kDesc, 1, kData, 8, 0, 0);
  Publish(0);
  Publish(1);
  ASSERT_OK(PopChain(*queue).status());
  ASSERT_OK(PopChain(*queue).status());
  queue->PushUsed(0, 0);
  EXPECT_FALSE(queue->NeedsInterrupt());
  queue->PushUsed(1, 0);
  EXPECT_TRUE(queue->NeedsInterrupt());

  EXPECT_FALSE(queue->EnableNotifications());
  uint16_t* avail_event = reinterpret_cast<uint16_t*>(
      memory_->TranslateGuest(kUsed + 4 + sizeof(vring_used_elem) * kSize, 2));
  EXPECT_EQ(*avail_event, 2);  // Kick me for head index 2 onwards.
  Publish(0);
  EXPECT_TRUE(queue->EnableNotifications());
}

TEST_F(VirtqueueTest, RefusesRingsOutsideSharedMemory) {
  EXPECT_THAT(Virtqueue::Create({kSize, 0x1000, 0x2000, 0x3000}, 0, false, false, memory_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      Virtqueue::Create({kSize, kUserBase + (1 << 20) - 16, kUserBase + kAvail, kUserBase + kUsed},
                        0, false, false, memory_),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Virtqueue::Create({3, kUserBase, kUserBase + kAvail, kUserBase + kUsed}, 0, false,
                                false, memory_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace virtiofsd
