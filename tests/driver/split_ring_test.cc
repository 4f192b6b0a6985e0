// SplitRing against TestDevice (the device side, written separately from the
// virtio spec), with no daemon: the layout, chains (direct, indirect, raw), kick
// and interrupt suppression, and a device that breaks the ring.

#include "tests/driver/split_ring.h"

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/driver/test_device.h"

namespace virtiofsd::driver {
namespace {

using ::virtiofsd::testing::StatusIs;

class SplitRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(memory_, GuestMemory::Create(4 << 20, RegionLayout::kTwoLikeQemu));
  }
  void MakeRing(uint16_t size, bool event_idx) {
    ASSERT_OK_AND_ASSIGN(ring_, SplitRing::Create(memory_.get(), size, event_idx));
    device_ = std::make_unique<TestDevice>(memory_.get(), *ring_);
  }

  std::unique_ptr<GuestMemory> memory_;
  std::unique_ptr<SplitRing> ring_;
  std::unique_ptr<TestDevice> device_;
};

TEST_F(SplitRingTest, LayoutIsTheLegacyVringLayout) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(256, false));
  EXPECT_EQ(ring_->desc_addr() % 4096, 0u);
  EXPECT_EQ(ring_->avail_addr(), ring_->desc_addr() + 16 * 256);
  EXPECT_EQ(ring_->used_addr() % 4096, 0u);
  EXPECT_GE(ring_->used_addr(), ring_->avail_addr() + 2 * (3 + 256));
  EXPECT_LT(ring_->used_addr() - ring_->avail_addr(), 2 * (3 + 256) + 4096u);
  EXPECT_NE(memory_->Translate(ring_->used_addr(), 6 + 8 * 256 + 2), nullptr);
  EXPECT_THAT(SplitRing::Create(memory_.get(), 100, false),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SplitRingTest, ChainRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  const Segment segments[] = {{0x10000, 40, false}, {0x20000, 7, false}, {0x30000, 100, true}};
  ASSERT_OK_AND_ASSIGN(uint16_t head, ring_->AddChain(segments));
  EXPECT_FALSE(device_->Pop().has_value()) << "visible before Publish()";
  EXPECT_TRUE(ring_->Publish());
  std::optional<TestDevice::Chain> chain = device_->Pop();
  ASSERT_TRUE(chain.has_value());
  EXPECT_EQ(chain->head, head);
  ASSERT_EQ(chain->descriptors.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(chain->descriptors[i].addr, segments[i].addr);
    EXPECT_EQ(chain->descriptors[i].len, segments[i].len);
    EXPECT_EQ((chain->descriptors[i].flags & VRING_DESC_F_WRITE) != 0, segments[i].device_writable);
  }
  EXPECT_EQ(ring_->num_free(), 5);
  ASSERT_OK_AND_ASSIGN(std::optional<vring_used_elem> none, ring_->PopUsed());
  EXPECT_FALSE(none.has_value());
  device_->Push(head, 60);
  ASSERT_OK_AND_ASSIGN(std::optional<vring_used_elem> used, ring_->PopUsed());
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->id, head);
  EXPECT_EQ(used->len, 60u);
  EXPECT_EQ(ring_->num_free(), 8);
  EXPECT_EQ(ring_->in_flight(), 0);
}

TEST_F(SplitRingTest, IndirectChainUsesOneDescriptor) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  ASSERT_OK_AND_ASSIGN(uint64_t table, memory_->allocator().Allocate(4 * 16, 16));
  const Segment segments[] = {
      {0x10000, 1, false}, {0x11000, 2, false}, {0x12000, 3, true}, {0x13000, 4, true}};
  ASSERT_OK_AND_ASSIGN(uint16_t head, ring_->AddIndirect(table, segments));
  EXPECT_EQ(ring_->num_free(), 7);
  EXPECT_EQ(device_->desc(head).flags, VRING_DESC_F_INDIRECT);
  EXPECT_EQ(device_->desc(head).len, 64u);
  ring_->Publish();
  std::optional<TestDevice::Chain> chain = device_->Pop();
  ASSERT_TRUE(chain.has_value());
  ASSERT_EQ(chain->descriptors.size(), 4u);
  EXPECT_EQ(chain->descriptors[3].addr, 0x13000u);
  EXPECT_EQ(chain->descriptors[3].len, 4u);
  EXPECT_EQ(chain->descriptors[3].flags, VRING_DESC_F_WRITE);
}

TEST_F(SplitRingTest, RawDescriptorsMayLoop) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  const RawDescriptor loop[] = {{0x10000, 16, VRING_DESC_F_NEXT, 1},
                                {0x20000, 0, VRING_DESC_F_NEXT, 0},
                                {0x30000, 8, VRING_DESC_F_NEXT, 999}};
  ASSERT_OK_AND_ASSIGN(uint16_t head, ring_->AddRaw(loop));
  const uint16_t second = device_->desc(head).next;
  EXPECT_EQ(device_->desc(second).next, head);
  EXPECT_EQ(device_->desc(second).len, 0u);
  // The third entry's next is out of range and kept as is.
  bool found = false;
  for (uint16_t i = 0; i < 8; ++i) found |= device_->desc(i).next == 999;
  EXPECT_TRUE(found);
}

TEST_F(SplitRingTest, EventIdxSuppressesKicks) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, true));
  const Segment one[] = {{0x10000, 16, false}};
  device_->avail_event() = 0;  // device wants a kick when entry 0 becomes available
  ASSERT_OK(ring_->AddChain(one).status());
  EXPECT_TRUE(ring_->Publish());
  ASSERT_OK(ring_->AddChain(one).status());
  EXPECT_FALSE(ring_->Publish()) << "the device is still busy with entry 0";
  device_->avail_event() = 2;
  ASSERT_OK(ring_->AddChain(one).status());
  EXPECT_TRUE(ring_->Publish());
  EXPECT_FALSE(ring_->Publish()) << "nothing new";
}

TEST_F(SplitRingTest, NoNotifyFlagSuppressesKicksWithoutEventIdx) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  const Segment one[] = {{0x10000, 16, false}};
  device_->used_flags() = VRING_USED_F_NO_NOTIFY;
  ASSERT_OK(ring_->AddChain(one).status());
  EXPECT_FALSE(ring_->Publish());
  device_->used_flags() = 0;
  ASSERT_OK(ring_->AddChain(one).status());
  EXPECT_TRUE(ring_->Publish());
}

TEST_F(SplitRingTest, EnableInterruptsAsksForTheNextUsedEntry) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, true));
  const Segment one[] = {{0x10000, 16, false}};
  ASSERT_OK_AND_ASSIGN(uint16_t a, ring_->AddChain(one));
  ASSERT_OK_AND_ASSIGN(uint16_t b, ring_->AddChain(one));
  ring_->Publish();
  EXPECT_FALSE(ring_->EnableInterrupts());
  EXPECT_EQ(device_->used_event(), 0);
  device_->Push(a, 0);
  EXPECT_TRUE(ring_->EnableInterrupts()) << "an entry is already waiting";
  ASSERT_OK(ring_->PopUsed().status());
  EXPECT_FALSE(ring_->EnableInterrupts());
  EXPECT_EQ(device_->used_event(), 1);
  device_->Push(b, 0);
  ASSERT_OK(ring_->PopUsed().status());
}

TEST_F(SplitRingTest, FullRingAndReuse) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(4, false));
  const Segment two[] = {{0x10000, 16, false}, {0x11000, 16, true}};
  ASSERT_OK_AND_ASSIGN(uint16_t a, ring_->AddChain(two));
  ASSERT_OK(ring_->AddChain(two).status());
  EXPECT_THAT(ring_->AddChain(two), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(ring_->AddChain({}), StatusIs(absl::StatusCode::kInvalidArgument));
  ring_->Publish();
  device_->Push(a, 0);
  ASSERT_OK(ring_->PopUsed().status());
  EXPECT_OK(ring_->AddChain(two).status());
}

TEST_F(SplitRingTest, DeviceReturningABogusIdIsDataLoss) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  const Segment one[] = {{0x10000, 16, false}};
  ASSERT_OK_AND_ASSIGN(uint16_t head, ring_->AddChain(one));
  ring_->Publish();
  device_->Push(head + 1, 0);  // not in flight
  EXPECT_THAT(ring_->PopUsed(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SplitRingTest, DeviceRunningAheadIsDataLoss) {
  ASSERT_NO_FATAL_FAILURE(MakeRing(8, false));
  const Segment one[] = {{0x10000, 16, false}};
  ASSERT_OK_AND_ASSIGN(uint16_t head, ring_->AddChain(one));
  ring_->Publish();
  device_->Push(head, 0);
  device_->Push(head, 0);  // two used entries for one chain
  EXPECT_THAT(ring_->PopUsed(), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace virtiofsd::driver
