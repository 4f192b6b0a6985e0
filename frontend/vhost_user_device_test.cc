#include "frontend/vhost_user_device.h"

#include <linux/virtio_fs.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using namespace vhost_user;  // NOLINT
using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::OpenFds;
using ::virtiofsd::testing::StatusIs;

constexpr uint64_t kUserBase = 0x7f0000000000;

class CountingHandler : public ChainHandler {
 public:
  void HandleChain(PendingChain chain) override { chain.Complete(0); }
};

template <typename T>
std::string Payload(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
}

UniqueFd Memfd(size_t size) {
  UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
  EXPECT_EQ(ftruncate(fd.get(), size), 0);
  return fd;
}

std::vector<UniqueFd> Fds(UniqueFd fd) {
  std::vector<UniqueFd> fds;
  fds.push_back(std::move(fd));
  return fds;
}

class VhostUserDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = OpenFds(); }
  void TearDown() override {
    device_.reset();
    EXPECT_EQ(OpenFds(), fds_before_) << "an fd leaked";
  }

  absl::StatusOr<VhostUserDevice::Reply> Send(uint32_t request, std::string payload = "",
                                              std::vector<UniqueFd> fds = {}) {
    Header header{request, kVersion, static_cast<uint32_t>(payload.size())};
    return device_->Handle(header, payload, std::move(fds));
  }
  absl::Status AddRegion(uint64_t gpa, uint64_t size, uint64_t uaddr) {
    SingleMemoryRegion region{0, {gpa, size, uaddr, 0}};
    return Send(kAddMemReg, Payload(region), Fds(Memfd(size))).status();
  }

  CountingHandler handler_;
  std::unique_ptr<VhostUserDevice> device_ =
      std::make_unique<VhostUserDevice>(UniqueFd(), VhostUserDeviceOptions{2, "myfs"}, handler_);
  std::set<int> fds_before_;
};

TEST_F(VhostUserDeviceTest, AnswersFeatureQueries) {
  ASSERT_OK_AND_ASSIGN(auto features, Send(kGetFeatures));
  ASSERT_TRUE(features.send);
  uint64_t value;
  memcpy(&value, features.payload.data(), 8);
  EXPECT_EQ(value, OfferedVirtioFeatures());
  ASSERT_OK_AND_ASSIGN(auto queues, Send(kGetQueueNum));
  memcpy(&value, queues.payload.data(), 8);
  EXPECT_EQ(value, 3u);  // hiprio + 2 request queues
  ASSERT_OK_AND_ASSIGN(auto protocol, Send(kGetProtocolFeatures));
  memcpy(&value, protocol.payload.data(), 8);
  EXPECT_TRUE(value & kProtocolConfigureMemSlots);
  EXPECT_TRUE(value & kProtocolConfig);  // --tag given
  EXPECT_OK(Send(kSetProtocolFeatures, Payload(value)).status());
  EXPECT_OK(Send(kSetFeatures, Payload(OfferedVirtioFeatures())).status());
  EXPECT_EQ(device_->acked_features(), OfferedVirtioFeatures());
}

TEST_F(VhostUserDeviceTest, RefusesFeaturesNotOffered) {
  EXPECT_THAT(Send(kSetFeatures, Payload(uint64_t{1} << 40)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetProtocolFeatures, Payload(uint64_t{1} << 2)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VhostUserDeviceTest, RefusesWrongSizesAndStrayFds) {
  EXPECT_THAT(Send(kSetFeatures, "1234"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringNum, Payload(uint64_t{0})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kGetFeatures, "", Fds(Memfd(4096))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  SingleMemoryRegion region{0, {0, 4096, kUserBase, 0}};
  EXPECT_THAT(Send(kAddMemReg, Payload(region)), StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<UniqueFd> two;
  two.push_back(Memfd(4096));
  two.push_back(Memfd(4096));
  EXPECT_THAT(Send(kAddMemReg, Payload(region), std::move(two)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringKick, Payload(uint64_t{1})),  // kick without its fd
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(777), StatusIs(absl::StatusCode::kUnimplemented));
}

TEST_F(VhostUserDeviceTest, RefusesBadQueuesAndSizes) {
  EXPECT_THAT(Send(kSetVringNum, Payload(VringState{3, 256})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringNum, Payload(VringState{1, 100})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringNum, Payload(VringState{1, 65536})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringBase, Payload(VringState{1, 70000})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetVringCall, Payload(uint64_t{0x1ff} + 0x1000)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VhostUserDeviceTest, StoppingAQueueBeyondOursStillReplies) {
  // QEMU waits for the reply to every GET_VRING_BASE, even of a queue it set up
  // beyond GET_QUEUE_NUM (vhost-user-fs-pci with more num-request-queues).
  ASSERT_OK_AND_ASSIGN(auto reply, Send(kGetVringBase, Payload(VringState{3, 0})));
  EXPECT_TRUE(reply.send);
  EXPECT_EQ(reply.payload, Payload(VringState{3, 0}));
  EXPECT_THAT(Send(kSetVringEnable, Payload(VringState{3, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VhostUserDeviceTest, RefusesOverlappingRegions) {
  EXPECT_OK(AddRegion(0, 0x10000, kUserBase));
  EXPECT_THAT(AddRegion(0x8000, 0x10000, kUserBase + 0x100000),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(AddRegion(0x10000, 0x10000, kUserBase + 0x10000));
  SingleMemoryRegion gone{0, {0, 0x10000, kUserBase, 0}};
  EXPECT_OK(Send(kRemMemReg, Payload(gone)).status());
  EXPECT_THAT(Send(kRemMemReg, Payload(gone)), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VhostUserDeviceTest, SetMemTableIsAllOrNothing) {
  MemoryTable table{};
  table.nregions = 2;
  table.regions[0] = {0, 0x10000, kUserBase, 0};
  table.regions[1] = {0x8000, 0x10000, kUserBase + 0x100000, 0};  // overlaps
  std::string payload = Payload(table).substr(0, 8 + 2 * sizeof(MemoryRegion));
  std::vector<UniqueFd> fds;
  fds.push_back(Memfd(0x10000));
  fds.push_back(Memfd(0x10000));
  EXPECT_THAT(Send(kSetMemTable, payload, std::move(fds)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  table.nregions = 9;
  EXPECT_THAT(Send(kSetMemTable, Payload(table)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VhostUserDeviceTest, StartsAndStopsAQueue) {
  ASSERT_OK(Send(kSetFeatures, Payload(OfferedVirtioFeatures())).status());
  ASSERT_OK(AddRegion(0, 0x100000, kUserBase));
  ASSERT_OK(Send(kSetVringNum, Payload(VringState{1, 16})).status());
  ASSERT_OK(Send(kSetVringBase, Payload(VringState{1, 5})).status());
  VringAddr addr{1, 0, kUserBase, kUserBase + 0x2000, kUserBase + 0x1000, 0};
  ASSERT_OK(Send(kSetVringAddr, Payload(addr)).status());
  ASSERT_OK(
      Send(kSetVringKick, Payload(uint64_t{1}), Fds(UniqueFd(eventfd(0, EFD_CLOEXEC)))).status());
  EXPECT_FALSE(device_->queue_running(1));  // Protocol features: starts disabled.
  ASSERT_OK(Send(kSetVringEnable, Payload(VringState{1, 1})).status());
  EXPECT_TRUE(device_->queue_running(1));
  ASSERT_OK_AND_ASSIGN(auto base, Send(kGetVringBase, Payload(VringState{1, 0})));
  VringState state;
  memcpy(&state, base.payload.data(), sizeof(state));
  EXPECT_EQ(state.index, 1u);
  EXPECT_EQ(state.num, 5u);
  EXPECT_FALSE(device_->queue_running(1));
}

TEST_F(VhostUserDeviceTest, RingsOutsideMemoryAreAnErrorButNotFatal) {
  ASSERT_OK(Send(kSetFeatures, Payload(OfferedVirtioFeatures())).status());
  ASSERT_OK(AddRegion(0, 0x10000, kUserBase));
  ASSERT_OK(Send(kSetVringNum, Payload(VringState{1, 16})).status());
  VringAddr addr{1, 0, kUserBase + 0x100000, kUserBase + 0x2000, kUserBase + 0x1000, 0};
  ASSERT_OK(Send(kSetVringAddr, Payload(addr)).status());
  ASSERT_OK(
      Send(kSetVringKick, Payload(uint64_t{1}), Fds(UniqueFd(eventfd(0, EFD_CLOEXEC)))).status());
  EXPECT_THAT(Send(kSetVringEnable, Payload(VringState{1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(device_->queue_running(1));
}

TEST_F(VhostUserDeviceTest, NoSharedMemoryAtAllIsFatal) {
  ASSERT_OK(Send(kSetVringNum, Payload(VringState{1, 16})).status());
  VringAddr addr{1, 0, kUserBase, kUserBase + 0x2000, kUserBase + 0x1000, 0};
  ASSERT_OK(Send(kSetVringAddr, Payload(addr)).status());
  auto started = Send(kSetVringKick, Payload(uint64_t{1}), Fds(UniqueFd(eventfd(0, EFD_CLOEXEC))));
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(started.status().message().find("share=on"), absl::string_view::npos);
}

TEST_F(VhostUserDeviceTest, ConfigSpaceCarriesTheTag) {
  ConfigHeader header{0, sizeof(virtio_fs_config), 0};
  std::string payload = Payload(header) + std::string(sizeof(virtio_fs_config), '\0');
  ASSERT_OK_AND_ASSIGN(auto reply, Send(kGetConfig, payload));
  virtio_fs_config config;
  memcpy(&config, reply.payload.data() + sizeof(header), sizeof(config));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(config.tag), 4), "myfs");
  EXPECT_EQ(config.num_request_queues, 2u);
  ConfigHeader outside{40, 100, 0};
  EXPECT_THAT(Send(kGetConfig, Payload(outside) + std::string(100, '\0')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Send(kSetConfig, payload), StatusIs(absl::StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace virtiofsd
