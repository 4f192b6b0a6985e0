// VhostUserFsDriver against a fake back-end in a thread (records every message,
// answers the GET_* ones and acks) and TestDevice playing the device on the
// driver's own rings: the exact QEMU 7.2 message sequence, both memory-table
// messages, and the reply checks, timeouts and hang-ups that a real daemon
// rarely triggers.

#include "tests/driver/vhost_user_fs_driver.h"

#include <linux/fuse.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/driver/fuse_client.h"
#include "tests/driver/test_device.h"

namespace virtiofsd::driver {
namespace {

using ::testing::ElementsAreArray;
using ::virtiofsd::testing::StatusIs;

template <typename T>
T Decode(const std::string& bytes) {
  T value{};
  memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof(T)));
  return value;
}

// A vhost-user back-end that only talks: answers GET_*, acks NEED_REPLY, keeps the
// call eventfds, and records every message.
class FakeBackend {
 public:
  struct Record {
    uint32_t request;
    uint32_t flags;
    std::string payload;
    size_t fds;
  };

  FakeBackend(const std::string& path, uint64_t features, uint64_t protocol_features)
      : features_(features), protocol_features_(protocol_features) {
    listener_.Reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listener_.get(), 1) != 0) {
      ADD_FAILURE() << "bind " << path << ": " << strerror(errno);
    }
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeBackend() {
    stop_ = true;
    shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }

  // Everything recorded once there are at least `n` records (or after 5 s).
  std::vector<Record> WaitForRecords(size_t n) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    mu_.AwaitWithTimeout(absl::Condition(this, &FakeBackend::HaveWanted), absl::Seconds(5));
    return records_;
  }

  // Signals the driver that `queue` has used entries.
  void Interrupt(int queue) {
    absl::MutexLock lock(&mu_);
    const uint64_t one = 1;
    ASSERT_EQ(write(calls_[queue].get(), &one, sizeof(one)), 8);
  }

  // Closes the connection as a crashing back-end would.
  void HangUp() { hang_up_ = true; }

 private:
  bool HaveWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return records_.size() >= wanted_; }

  void Serve() {
    UniqueFd conn(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    VhostUserChannel channel(std::move(conn), absl::Milliseconds(20));
    while (!stop_ && !hang_up_) {
      absl::StatusOr<VhostUserMessage> message = channel.Receive();
      if (!message.ok()) {
        if (message.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
        return;
      }
      const VhostUserHeader& h = message->header;
      uint64_t index = 0;
      memcpy(&index, message->payload.data(), std::min<size_t>(8, message->payload.size()));
      {
        absl::MutexLock lock(&mu_);
        records_.push_back({h.request, h.flags, message->payload, message->fds.size()});
        if (h.request == kSetVringCall && !message->fds.empty()) {
          calls_[index & 0xff] = std::move(message->fds[0]);
        }
      }
      std::optional<uint64_t> answer;
      switch (h.request) {
        case kGetFeatures:
          answer = features_;
          break;
        case kGetProtocolFeatures:
          answer = protocol_features_;
          break;
        case kGetQueueNum:
          answer = 2;
          break;
        case kGetMaxMemSlots:
          answer = 32;
          break;
        default:
          if (h.flags & kVhostUserNeedReplyFlag) answer = 0;
      }
      if (h.request == kGetVringBase) {
        ASSERT_OK(
            channel.Send(h.request, kVhostUserVersion | kVhostUserReplyFlag, message->payload));
      } else if (answer.has_value()) {
        ASSERT_OK(channel.Send(h.request, kVhostUserVersion | kVhostUserReplyFlag,
                               std::string(reinterpret_cast<const char*>(&*answer), 8)));
      }
    }
  }

  const uint64_t features_, protocol_features_;
  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, hang_up_{false};
  absl::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  std::map<int, UniqueFd> calls_ ABSL_GUARDED_BY(mu_);
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
};

constexpr uint64_t kC72Features = 0x175000000;  // QEMU 7.2's C virtiofsd offers these
constexpr uint64_t kC72Protocol = 0x8c2b;

class VhostUserFsDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/vfsd-driver-unit-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    driver_.reset();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Connect(uint64_t protocol = kC72Protocol, DriverOptions options = {}) {
    backend_ = std::make_unique<FakeBackend>(dir_ + "/s", kC72Features, protocol);
    ASSERT_OK_AND_ASSIGN(driver_, VhostUserFsDriver::Connect(dir_ + "/s", options));
    device_ = std::make_unique<TestDevice>(&driver_->memory(), driver_->ring(1));
  }

  std::string dir_;
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<VhostUserFsDriver> driver_;
  std::unique_ptr<TestDevice> device_;
};

TEST_F(VhostUserFsDriverTest, NegotiatesInQemu72Order) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  const std::vector<uint32_t> expected = {
      kGetFeatures,   kGetProtocolFeatures, kSetProtocolFeatures,
      kGetQueueNum,   kGetMaxMemSlots,      kSetBackendReqFd,
      kSetOwner,      kGetFeatures,         kSetVringCall,
      kSetVringErr,   kSetVringCall,        kSetVringErr,
      kSetFeatures,   kAddMemReg,           kAddMemReg,
      kSetVringNum,   kSetVringBase,        kSetVringAddr,
      kSetVringKick,  kSetVringNum,         kSetVringBase,
      kSetVringAddr,  kSetVringKick,        kSetVringEnable,
      kSetVringEnable};
  const std::vector<FakeBackend::Record> records = backend_->WaitForRecords(expected.size());
  std::vector<uint32_t> requests;
  for (const auto& r : records) requests.push_back(r.request);
  EXPECT_THAT(requests, ElementsAreArray(expected));
  ASSERT_EQ(records.size(), expected.size());

  for (const auto& r : records) {
    const bool acked = r.request == kSetBackendReqFd || r.request == kAddMemReg;
    EXPECT_EQ(r.flags, kVhostUserVersion | (acked ? kVhostUserNeedReplyFlag : 0)) << r.request;
  }
  EXPECT_EQ(Decode<uint64_t>(records[2].payload), kC72Protocol);
  EXPECT_EQ(Decode<uint64_t>(records[12].payload), 0x170000000u);
  EXPECT_EQ(records[5].fds, 1u);
  for (int i : {13, 14}) {
    const auto region = Decode<VhostUserSingleMemoryRegion>(records[i].payload).region;
    const GuestRegion& want = driver_->memory().regions()[i - 13];
    EXPECT_EQ(region.guest_phys_addr, want.guest_phys_addr);
    EXPECT_EQ(region.memory_size, want.memory_size);
    EXPECT_EQ(region.userspace_addr, want.userspace_addr);
    EXPECT_EQ(region.mmap_offset, want.mmap_offset);
    EXPECT_EQ(records[i].fds, 1u);
  }
  const auto addr = Decode<vhost_vring_addr>(records[21].payload);
  EXPECT_EQ(addr.index, 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t desc, driver_->memory().UserAddress(driver_->ring(1).desc_addr()));
  EXPECT_EQ(addr.desc_user_addr, desc);
  EXPECT_EQ(Decode<vhost_vring_state>(records[15].payload).num, 1024u);
  EXPECT_EQ(Decode<vhost_vring_state>(records[24].payload).num, 1u);  // enable queue 1
}

TEST_F(VhostUserFsDriverTest, SetMemTableWithoutConfigureMemSlots) {
  ASSERT_NO_FATAL_FAILURE(Connect(kC72Protocol & ~(1ull << kProtocolConfigureMemSlots)));
  const auto records = backend_->WaitForRecords(23);
  auto it = std::find_if(records.begin(), records.end(),
                         [](const auto& r) { return r.request == kSetMemTable; });
  ASSERT_NE(it, records.end());
  EXPECT_EQ(it->flags, kVhostUserVersion | kVhostUserNeedReplyFlag);
  EXPECT_EQ(it->fds, 2u);
  EXPECT_EQ(Decode<VhostUserMemoryTableHeader>(it->payload).nregions, 2u);
  EXPECT_EQ(it->payload.size(), 8 + 2 * sizeof(VhostUserMemoryRegion));
  EXPECT_FALSE(driver_->negotiated().add_mem_reg);
}

TEST_F(VhostUserFsDriverTest, AckEveryMessage) {
  DriverOptions options;
  options.ack_every_message = true;
  ASSERT_NO_FATAL_FAILURE(Connect(kC72Protocol, options));
  for (const auto& r : backend_->WaitForRecords(25)) {
    const bool has_reply = r.request == kGetFeatures || r.request == kGetProtocolFeatures ||
                           r.request == kGetQueueNum || r.request == kGetMaxMemSlots ||
                           r.request == kSetProtocolFeatures;
    EXPECT_EQ((r.flags & kVhostUserNeedReplyFlag) != 0, !has_reply) << r.request;
  }
}

class FuseThroughTestDevice : public VhostUserFsDriverTest {
 protected:
  // Pops the one request, checks it is a GETATTR, answers with `reply` (whose
  // length goes in the used element unless `used_len` says otherwise).
  void Answer(fuse_out_header header, const std::string& body,
              std::optional<uint32_t> used_len = std::nullopt) {
    std::optional<TestDevice::Chain> chain = device_->Pop();
    ASSERT_TRUE(chain.has_value());
    const auto in = Decode<fuse_in_header>(device_->ReadableBytes(*chain));
    EXPECT_EQ(in.opcode, FUSE_GETATTR);
    if (header.unique == 0) header.unique = in.unique;
    if (header.len == 0) header.len = sizeof(header) + body.size();
    const uint32_t written = device_->WriteBytes(*chain, AsBytes(header) + body);
    device_->Push(chain->head, used_len.value_or(written));
    backend_->Interrupt(1);
  }

  absl::StatusOr<FuseReply> Getattr(FuseClient& fuse, fuse_out_header header,
                                    const std::string& body,
                                    std::optional<uint32_t> used_len = std::nullopt) {
    absl::StatusOr<uint64_t> unique =
        fuse.Start(FUSE_GETATTR, 1, {AsBytes(fuse_getattr_in{})}, sizeof(fuse_attr_out));
    if (!unique.ok()) return unique.status();
    Answer(header, body, used_len);
    return fuse.Await(*unique);
  }
};

TEST_F(FuseThroughTestDevice, GoodReplyComesBack) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  FuseClient fuse(driver_.get());
  fuse_attr_out attr{};
  attr.attr.ino = 42;
  ASSERT_OK_AND_ASSIGN(FuseReply reply, Getattr(fuse, {}, AsBytes(attr)));
  EXPECT_EQ(reply.error(), 0);
  EXPECT_EQ(Decode<fuse_attr_out>(reply.body).attr.ino, 42u);
}

TEST_F(FuseThroughTestDevice, IndirectChainsReachTheDevice) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  FuseClient fuse(driver_.get());
  fuse.set_options({.queue = 1, .post = {.indirect = true, .max_segment = 16}});
  ASSERT_OK_AND_ASSIGN(FuseReply reply, Getattr(fuse, {0, -ENOENT, 0}, ""));
  EXPECT_EQ(reply.error(), ENOENT);
}

TEST_F(FuseThroughTestDevice, BrokenRepliesAreDataLoss) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  FuseClient fuse(driver_.get());
  const std::string attr = AsBytes(fuse_attr_out{});
  EXPECT_THAT(Getattr(fuse, {0, 0, 12345}, attr), StatusIs(absl::StatusCode::kDataLoss))
      << "wrong unique";
  EXPECT_THAT(Getattr(fuse, {}, attr, 20), StatusIs(absl::StatusCode::kDataLoss))
      << "used length short of the header's";
  EXPECT_THAT(Getattr(fuse, {0, -EIO, 0}, attr), StatusIs(absl::StatusCode::kDataLoss))
      << "error with a body";
  EXPECT_THAT(Getattr(fuse, {0, 5, 0}, ""), StatusIs(absl::StatusCode::kDataLoss))
      << "positive error";
  EXPECT_THAT(Getattr(fuse, {}, "", 8), StatusIs(absl::StatusCode::kDataLoss))
      << "shorter than an out header";
}

TEST_F(VhostUserFsDriverTest, SilentDeviceTimesOut) {
  DriverOptions options;
  options.timeout = absl::Seconds(1);  // also bounds each negotiation reply
  ASSERT_NO_FATAL_FAILURE(Connect(kC72Protocol, options));
  FuseClient fuse(driver_.get());
  EXPECT_THAT(fuse.Getattr(1), StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(VhostUserFsDriverTest, HangUpFailsWaitsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  FuseClient fuse(driver_.get());
  ASSERT_OK_AND_ASSIGN(uint64_t unique, fuse.Start(FUSE_STATFS, 1, {}, sizeof(fuse_statfs_out)));
  backend_->HangUp();
  const absl::Time start = absl::Now();
  EXPECT_THAT(fuse.Await(unique), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(VhostUserFsDriverTest, WholeRingInFlightThenFull) {
  DriverOptions options;
  options.queue_size = 16;
  ASSERT_NO_FATAL_FAILURE(Connect(kC72Protocol, options));
  FuseClient fuse(driver_.get());
  fuse.set_options({.queue = 1, .post = {.indirect = true}});
  for (int i = 0; i < 16; ++i) ASSERT_OK(fuse.Start(FUSE_STATFS, 1, {}, 80).status());
  EXPECT_THAT(fuse.Start(FUSE_STATFS, 1, {}, 80), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(driver_->in_flight(), 16);
}

}  // namespace
}  // namespace virtiofsd::driver
