// --num-request-queues through the real launcher, frontend and broker: the device
// offers exactly the queues asked for (GET_QUEUE_NUM, the virtio-fs config space)
// and serves requests on every one of them, with requests in flight on all at once.

#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/driver/daemon.h"
#include "tests/driver/fuse_client.h"
#include "tests/driver/vhost_user_fs_driver.h"
#include "tests/driver/vhost_user_messages.h"

namespace virtiofsd {
namespace {

using driver::AsBytes;
using driver::Daemon;
using driver::DriverOptions;
using driver::FuseCallOptions;
using driver::FuseClient;
using driver::FuseReply;
using driver::VhostUserFsDriver;

// The vhost-user spec's "Virtio device config space" header.
struct ConfigHeader {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
};

FuseCallOptions On(int queue) {
  FuseCallOptions options;
  options.queue = queue;
  return options;
}

class MultiQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not TEST_TMPDIR: a UNIX socket path must fit in 108 bytes.
    char dir[] = "/tmp/vfsd-multiqueue-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    shared_ = dir_ + "/shared";
    ASSERT_EQ(mkdir(shared_.c_str(), 0755), 0);
  }

  void TearDown() override {
    driver_.reset();  // QEMU goes away: the daemon exits by itself.
    if (daemon_ != nullptr) {
      absl::StatusOr<int> status = daemon_->Stop();
      if (HasFailure()) std::cerr << "daemon log:\n" << daemon_->Log();
      daemon_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts the daemon with `extra` options and connects a driver with `options`.
  void Start(std::vector<std::string> extra, const DriverOptions& options) {
    std::vector<std::string> argv = {"launcher/virtiofsd", "--socket-path={socket}",
                                     "--shared-dir={dir}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_OK_AND_ASSIGN(daemon_, Daemon::Start({.argv = argv,
                                                 .socket_path = dir_ + "/vhost.sock",
                                                 .shared_dir = shared_,
                                                 .log_path = dir_ + "/daemon.log"}));
    ASSERT_OK_AND_ASSIGN(driver_, VhostUserFsDriver::Connect(dir_ + "/vhost.sock", options));
  }

  // The virtio-fs configuration space, as QEMU reads it with GET_CONFIG.
  absl::StatusOr<virtio_fs_config> ReadConfig() {
    ConfigHeader header{0, sizeof(virtio_fs_config), 0};
    std::string payload = AsBytes(header) + std::string(sizeof(virtio_fs_config), '\0');
    absl::StatusOr<driver::VhostUserMessage> reply =
        driver_->channel().Call(driver::kGetConfig, driver::kVhostUserVersion, payload);
    if (!reply.ok()) return reply.status();
    if (reply->payload.size() != payload.size()) {
      return absl::DataLossError(absl::StrCat("GET_CONFIG reply of ", reply->payload.size()));
    }
    virtio_fs_config config;
    memcpy(&config, reply->payload.data() + sizeof(header), sizeof(config));
    return config;
  }

  std::string dir_, shared_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<VhostUserFsDriver> driver_;
};

TEST_F(MultiQueueTest, OneRequestQueueByDefault) {
  DriverOptions options;
  options.protocol_features |= 1ull << driver::kProtocolConfig;
  Start({"--tag=one"}, options);
  EXPECT_EQ(driver_->negotiated().queue_num, 2u);  // hiprio + 1
  ASSERT_OK_AND_ASSIGN(virtio_fs_config config, ReadConfig());
  EXPECT_EQ(config.num_request_queues, 1u);
  EXPECT_STREQ(reinterpret_cast<const char*>(config.tag), "one");
}

TEST_F(MultiQueueTest, EveryQueueIsOfferedAndServedAtOnce) {
  constexpr int kQueues = 4;
  constexpr int kPerQueue = 8;
  DriverOptions options;
  options.request_queues = kQueues;
  options.protocol_features |= 1ull << driver::kProtocolConfig;
  Start({"--num-request-queues=4", "--tag=mq"}, options);
  EXPECT_EQ(driver_->negotiated().queue_num, 1u + kQueues);
  ASSERT_OK_AND_ASSIGN(virtio_fs_config config, ReadConfig());
  EXPECT_EQ(config.num_request_queues, static_cast<uint32_t>(kQueues));

  FuseClient fuse(driver_.get());
  ASSERT_OK(fuse.Init().status());
  ASSERT_OK_AND_ASSIGN(driver::CreateReply file,
                       fuse.Create(FUSE_ROOT_ID, "file", O_RDWR | O_CREAT, 0100644));
  // Each queue writes its own 4 KiB block, all requests in flight before any
  // reply is awaited; then each queue reads back another queue's block.
  std::map<uint64_t, int> queue_of;  // unique -> queue it went to
  for (int round = 0; round < kPerQueue; ++round) {
    for (int queue = 1; queue <= kQueues; ++queue) {
      fuse_write_in in{};
      in.fh = file.open.fh;
      in.offset = ((queue - 1) * kPerQueue + round) * 4096;
      in.size = 4096;
      std::vector<std::string> args = {AsBytes(in), std::string(4096, 'a' + queue)};
      ASSERT_OK_AND_ASSIGN(uint64_t unique,
                           fuse.Start(FUSE_WRITE, file.entry.nodeid, std::move(args),
                                      sizeof(fuse_write_out), On(queue)));
      queue_of[unique] = queue;
      ASSERT_OK_AND_ASSIGN(unique,
                           fuse.Start(FUSE_GETATTR, file.entry.nodeid, {AsBytes(fuse_getattr_in{})},
                                      sizeof(fuse_attr_out), On(queue)));
      queue_of[unique] = queue;
    }
  }
  EXPECT_EQ(driver_->in_flight(), 2 * kQueues * kPerQueue);
  std::map<int, int> answered;  // queue -> replies
  while (!queue_of.empty()) {
    ASSERT_OK_AND_ASSIGN(auto reply, fuse.AwaitAny());
    ASSERT_EQ(reply.second.error(), 0) << queue_of[reply.first];
    ++answered[queue_of[reply.first]];
    queue_of.erase(reply.first);
  }
  for (int queue = 1; queue <= kQueues; ++queue) EXPECT_EQ(answered[queue], 2 * kPerQueue);

  for (int queue = 1; queue <= kQueues; ++queue) {
    const int writer = queue % kQueues + 1;
    fuse.set_options(On(queue));
    ASSERT_OK_AND_ASSIGN(std::string data, fuse.Read(file.entry.nodeid, file.open.fh,
                                                     (writer - 1) * kPerQueue * 4096, 4096));
    EXPECT_EQ(data, std::string(4096, 'a' + writer)) << "queue " << queue;
  }
  std::ifstream host(shared_ + "/file", std::ios::binary);
  std::stringstream contents;
  contents << host.rdbuf();
  EXPECT_EQ(contents.str().size(), static_cast<size_t>(kQueues * kPerQueue * 4096));
}

TEST_F(MultiQueueTest, TheMostQueuesTheOptionAllowsAreServed) {
  DriverOptions options;
  options.request_queues = 64;
  options.queue_size = 16;
  Start({"--num-request-queues=64"}, options);
  EXPECT_EQ(driver_->negotiated().queue_num, 65u);
  FuseClient fuse(driver_.get());
  ASSERT_OK(fuse.Init().status());
  for (int queue : {1, 33, 64}) {
    fuse.set_options(On(queue));
    EXPECT_OK(fuse.Getattr(FUSE_ROOT_ID).status()) << "queue " << queue;
  }
}

TEST_F(MultiQueueTest, AQueueBeyondTheOfferedOnesIsRefusedAndServiceGoesOn) {
  DriverOptions options;
  options.request_queues = 2;
  options.timeout = absl::Seconds(5);
  Start({"--num-request-queues=2"}, options);
  EXPECT_EQ(driver_->negotiated().queue_num, 3u);
  // Queue 3 does not exist: its setup gets a failure ack, and nothing breaks.
  vhost_vring_state state{3, 256};
  EXPECT_THAT(driver_->SendAcked(driver::kSetVringNum, AsBytes(state), {}, /*need_reply=*/true),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition));
  // QEMU with more num-request-queues than offered stops them all at shutdown and
  // waits for each reply: it gets one (base 0), or it would hang.
  ASSERT_OK_AND_ASSIGN(driver::VhostUserMessage stopped,
                       driver_->channel().Call(driver::kGetVringBase, driver::kVhostUserVersion,
                                               AsBytes(vhost_vring_state{3, 0})));
  EXPECT_EQ(stopped.payload, AsBytes(vhost_vring_state{3, 0}));
  FuseClient fuse(driver_.get());
  ASSERT_OK(fuse.Init().status());
  fuse.set_options(On(2));
  EXPECT_OK(fuse.Getattr(FUSE_ROOT_ID).status());
}

}  // namespace
}  // namespace virtiofsd
