// POSIX record locks (one OFD per guest lock owner) and flock through the real
// channel, with request ids chosen here so SETLKW can be interrupted: a waiting
// SETLKW blocks no other request, is granted when the holder unlocks, and ends
// with EINTR on INTERRUPT.

#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "broker/filesystem.h"
#include "broker/server.h"
#include "broker/testing/test_broker.h"
#include "common/channel/broker_wire.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

constexpr uint64_t kRoot = 1;
constexpr uint64_t kOwnerA = 0xa;
constexpr uint64_t kOwnerB = 0xb;

// A frontend that picks its own ids and reads replies in whatever order.
class LockTest : public ::testing::Test {
 protected:
  LockTest() {
    UniqueFd file(open(tmp_.Path("f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644));
    UniqueFd dir(open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    fs_ = *FileSystem::Create(std::move(dir), std::move(proc), FsConfig());
    auto pair = *FrameSocket::CreatePair();
    client_ = std::make_unique<FrameSocket>(std::move(pair.first));
    server_socket_ = std::make_unique<FrameSocket>(std::move(pair.second));
    server_ = std::make_unique<Server>(*server_socket_, *fs_, 2);
    serving_ = std::thread([this] { EXPECT_TRUE(server_->Run().ok()); });
    proto::Request handshake;
    handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
    EXPECT_EQ(Call(handshake).error(), 0);
    proto::Request lookup;
    lookup.mutable_lookup()->set_parent(kRoot);
    lookup.mutable_lookup()->set_name("f");
    node_ = Call(lookup).entry().node();
    handle1_ = OpenHandle();
    handle2_ = OpenHandle();
  }

  ~LockTest() override {
    client_->Shutdown();
    serving_.join();
  }

  uint64_t OpenHandle() {
    proto::Request open_req;
    open_req.mutable_open()->set_node(node_);
    open_req.mutable_open()->set_flags(O_RDWR);
    return Call(open_req).open().handle();
  }

  void Send(uint64_t id, proto::Request request) {
    request.set_id(id);
    ASSERT_TRUE(SendRequest(*client_, request).ok());
  }

  // The reply to `id`; replies to other ids that arrive first are kept.
  proto::Reply Wait(uint64_t id) {
    while (!early_.count(id)) {
      Frame frame;
      EXPECT_TRUE(client_->Receive(frame).ok());
      absl::StatusOr<BrokerResponse> response = DecodeReply(frame);
      EXPECT_TRUE(response.ok()) << response.status();
      if (!response.ok()) return proto::Reply();
      early_[response->reply.id()] = response->reply;
    }
    proto::Reply reply = early_[id];
    early_.erase(id);
    return reply;
  }
  bool Answered(uint64_t id) { return early_.count(id) > 0; }

  proto::Reply Call(proto::Request request) {
    const uint64_t id = next_id_++;
    Send(id, std::move(request));
    return Wait(id);
  }

  static proto::Request Setlk(uint64_t handle, uint64_t owner, uint32_t type, uint64_t start,
                              uint64_t end, bool wait, bool flock = false) {
    proto::Request request;
    proto::SetlkRequest* s = request.mutable_setlk();
    s->set_handle(handle);
    s->set_lock_owner(owner);
    s->mutable_lock()->set_type(type);
    s->mutable_lock()->set_start(start);
    s->mutable_lock()->set_end(end);
    s->set_wait(wait);
    s->set_flock(flock);
    return request;
  }

  static proto::Request Getlk(uint64_t handle, uint64_t owner, uint32_t type) {
    proto::Request request;
    request.mutable_getlk()->set_handle(handle);
    request.mutable_getlk()->set_lock_owner(owner);
    request.mutable_getlk()->mutable_lock()->set_type(type);
    request.mutable_getlk()->mutable_lock()->set_end(INT64_MAX);
    return request;
  }

  TempDir tmp_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<FrameSocket> client_;
  std::unique_ptr<FrameSocket> server_socket_;
  std::unique_ptr<Server> server_;
  std::thread serving_;
  std::map<uint64_t, proto::Reply> early_;
  uint64_t next_id_ = 1000;
  uint64_t node_ = 0, handle1_ = 0, handle2_ = 0;
};

TEST_F(LockTest, PosixLocksBelongToTheirOwner) {
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_WRLCK, 0, 99, false)).error(), 0);
  proto::Reply theirs = Call(Getlk(handle1_, kOwnerB, F_RDLCK));
  ASSERT_EQ(theirs.error(), 0);
  EXPECT_EQ(theirs.getlk().lock().type(), static_cast<uint32_t>(F_WRLCK));
  EXPECT_EQ(theirs.getlk().lock().start(), 0u);
  EXPECT_EQ(theirs.getlk().lock().end(), 99u);
  // Same owner: no conflict with itself, whichever handle it uses.
  EXPECT_EQ(Call(Getlk(handle2_, kOwnerA, F_WRLCK)).getlk().lock().type(),
            static_cast<uint32_t>(F_UNLCK));
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_RDLCK, 50, 60, false)).error(), EAGAIN);
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_RDLCK, 100, INT64_MAX, false)).error(), 0);
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_UNLCK, 0, 99, false)).error(), 0);
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_WRLCK, 50, 60, false)).error(), 0);
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, 77, 0, 1, false)).error(), EINVAL);
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_RDLCK, 10, 5, false)).error(), EINVAL);
}

TEST_F(LockTest, FlushDropsTheOwnersLocks) {
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_WRLCK, 0, INT64_MAX, false)).error(), 0);
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_WRLCK, 0, 0, false)).error(), EAGAIN);
  proto::Request flush;
  flush.mutable_flush()->set_handle(handle1_);
  flush.mutable_flush()->set_lock_owner(kOwnerA);
  EXPECT_EQ(Call(flush).error(), 0);
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_WRLCK, 0, 0, false)).error(), 0);
}

TEST_F(LockTest, SetlkwWaitsWithoutBlockingOthersAndIsGrantedOnUnlock) {
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_WRLCK, 0, INT64_MAX, false)).error(), 0);
  Send(1, Setlk(handle2_, kOwnerB, F_WRLCK, 0, INT64_MAX, true));
  // Other requests keep being answered while 1 waits.
  for (int i = 0; i < 10; ++i) {
    proto::Request getattr;
    getattr.mutable_getattr()->set_node(node_);
    EXPECT_EQ(Call(getattr).error(), 0);
  }
  EXPECT_FALSE(Answered(1));
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_UNLCK, 0, INT64_MAX, false)).error(), 0);
  EXPECT_EQ(Wait(1).error(), 0);
  EXPECT_EQ(Call(Getlk(handle1_, kOwnerA, F_RDLCK)).getlk().lock().type(),
            static_cast<uint32_t>(F_WRLCK));
}

TEST_F(LockTest, InterruptEndsAWaitingSetlkwWithEintr) {
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_WRLCK, 0, INT64_MAX, false)).error(), 0);
  Send(2, Setlk(handle2_, kOwnerB, F_RDLCK, 0, INT64_MAX, true));
  usleep(20 * 1000);
  proto::Request interrupt;
  interrupt.mutable_interrupt()->set_target_id(2);
  Send(0, interrupt);
  EXPECT_EQ(Wait(2).error(), EINTR);
  // Unknown targets are ignored; the channel still works.
  interrupt.mutable_interrupt()->set_target_id(12345);
  Send(0, interrupt);
  EXPECT_EQ(Call(Getlk(handle2_, kOwnerB, F_RDLCK)).getlk().lock().type(),
            static_cast<uint32_t>(F_WRLCK));
}

TEST_F(LockTest, FlockPerOpenFileAndReleaseUnlocks) {
  EXPECT_EQ(Call(Setlk(handle1_, kOwnerA, F_WRLCK, 0, 0, false, true)).error(), 0);
  EXPECT_EQ(Call(Setlk(handle2_, kOwnerB, F_RDLCK, 0, 0, false, true)).error(), EWOULDBLOCK);
  Send(3, Setlk(handle2_, kOwnerB, F_WRLCK, 0, 0, true, true));
  usleep(20 * 1000);
  EXPECT_FALSE(Answered(3));
  proto::Request release;
  release.mutable_release()->set_handle(handle1_);
  release.mutable_release()->set_release_flags(FUSE_RELEASE_FLOCK_UNLOCK);
  EXPECT_EQ(Call(release).error(), 0);
  EXPECT_EQ(Wait(3).error(), 0);
}

}  // namespace
}  // namespace virtiofsd::testing
