// BrokerClient's receiving: a polling thread takes the replies due to it, the
// receiver thread only those nobody else is there for, and an idle client sleeps.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/channel/broker_client.h"
#include "common/channel/broker_wire.h"
#include "common/status_matchers.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::OpenFds;
using ::virtiofsd::testing::StatusIs;

proto::Request Getattr(uint64_t node) {
  proto::Request request;
  request.mutable_caller()->set_uid(1000);
  request.mutable_getattr()->set_node(node);
  return request;
}

proto::Request Open(uint64_t node) {
  proto::Request request;
  request.mutable_open()->set_node(node);
  request.mutable_open()->set_flags(O_RDONLY);
  return request;
}

// The fake broker below records an FSYNC's handle as its node.
proto::Request Fsync(uint64_t node) {
  proto::Request request;
  request.mutable_fsync()->set_handle(node);
  return request;
}

// The broker's end on a thread: answers each frame's requests in order, with the
// replies in one frame: GETATTR with ino = node, OPEN with a memfd whose size is
// the node, FSYNC with an empty reply; holds back replies while held.
class Broker {
 public:
  explicit Broker(FrameSocket socket) : socket_(std::move(socket)), thread_([this] { Serve(); }) {}
  // Goes without answering what it holds.
  ~Broker() {
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
    }
    socket_.Shutdown();
    thread_.join();
  }
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Waits until `n` requests have arrived.
  void AwaitRequests(int n) {
    absl::MutexLock lock(&mu_);
    awaited_ = n;
    mu_.Await(absl::Condition(this, &Broker::Arrived));
  }
  // The frames received so far, and the nodes their requests named, in order.
  int frames() {
    absl::MutexLock lock(&mu_);
    return frames_;
  }
  std::vector<uint64_t> nodes() {
    absl::MutexLock lock(&mu_);
    return nodes_;
  }
  pid_t tid() const { return tid_.load(); }

 private:
  void Serve() {
    tid_ = static_cast<pid_t>(syscall(SYS_gettid));
    Frame frame;
    while (socket_.Receive(frame).ok()) {
      absl::StatusOr<proto::RequestBatch> batch = DecodeRequests(frame);
      ASSERT_OK(batch.status());
      {
        absl::MutexLock lock(&mu_);
        ++frames_;
        for (const proto::Request& request : batch->requests()) {
          ++received_;
          nodes_.push_back(request.has_open()    ? request.open().node()
                           : request.has_fsync() ? request.fsync().handle()
                                                 : request.getattr().node());
        }
        mu_.Await(absl::Condition(this, &Broker::MayAnswer));
        if (closing_) return;
      }
      BatchFrame replies;
      std::vector<UniqueFd> fds;  // open until sent
      for (const proto::Request& request : batch->requests()) {
        proto::Reply reply;
        reply.set_id(request.id());
        int fd = -1;
        if (request.has_open()) {
          fd = fds.emplace_back(memfd_create("data", MFD_CLOEXEC)).get();
          ASSERT_EQ(ftruncate(fd, static_cast<off_t>(request.open().node())), 0);
          reply.mutable_open()->set_handle(request.open().node());
        } else if (request.has_fsync()) {
          reply.mutable_empty();
        } else {
          reply.mutable_attr()->mutable_attr()->set_ino(request.getattr().node());
        }
        ASSERT_THAT(replies.Append(reply, fd), ::virtiofsd::testing::IsOkAndHolds(true));
      }
      if (!replies.Send(socket_).ok()) return;
    }
  }

  bool MayAnswer() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_ || closing_; }
  bool Arrived() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_ >= awaited_; }

  FrameSocket socket_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  int received_ ABSL_GUARDED_BY(mu_) = 0;
  int awaited_ ABSL_GUARDED_BY(mu_) = 0;
  int frames_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> nodes_ ABSL_GUARDED_BY(mu_);
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

// The threads of this process.
std::set<pid_t> Threads() {
  std::set<pid_t> tids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    tids.insert(std::stoi(entry.path().filename().string()));
  }
  return tids;
}

// How often thread `tid` of this process went to sleep (voluntary switches).
int64_t Sleeps(pid_t tid) {
  std::ifstream status(absl::StrCat("/proc/self/task/", tid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    int64_t n;
    if (absl::ConsumePrefix(&rest, "voluntary_ctxt_switches:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &n)) {
      return n;
    }
  }
  return -1;
}

class BrokerClientPollingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fds_before_ = OpenFds();
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    broker_.emplace(std::move(pair->second));
    client_.emplace(std::move(pair->first));
  }
  void TearDown() override {
    client_.reset();
    broker_.reset();
    EXPECT_EQ(OpenFds(), fds_before_) << "an fd leaked";
  }

  std::set<int> fds_before_;
  std::optional<Broker> broker_;
  std::optional<BrokerClient> client_;
};

bool Never() { return false; }

TEST_F(BrokerClientPollingTest, PollingThreadRunsEveryReplyItselfMatchedWithItsFd) {
  const std::thread::id self = std::this_thread::get_id();
  constexpr int kRequests = 64;
  int matched = 0;
  int on_other_threads = 0;
  client_->BeginPolling();
  for (int i = 1; i <= kRequests; ++i) {
    const bool open = i % 4 == 0;
    ASSERT_OK(client_->Submit(
        open ? Open(i) : Getattr(i), [&, i, open](absl::StatusOr<BrokerResponse> response) {
          if (std::this_thread::get_id() != self) ++on_other_threads;
          ASSERT_OK(response.status());
          struct stat st {};
          const bool right =
              open ? response->reply.open().handle() == static_cast<uint64_t>(i) &&
                         response->fd.valid() && fstat(response->fd.get(), &st) == 0 &&
                         st.st_size == i
                   : response->reply.attr().attr().ino() == static_cast<uint64_t>(i) &&
                         !response->fd.valid();
          if (right) ++matched;
        }));
  }
  // Returns once nothing is pending: the bound never ends it here.
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  EXPECT_EQ(matched, kRequests);
  EXPECT_EQ(on_other_threads, 0);
  EXPECT_EQ(client_->PendingCount(), 0u);
}

TEST_F(BrokerClientPollingTest, APollingThreadsRequestsTravelInBatches) {
  constexpr int kRequests = 4 * kRequestsPerFrame;
  int replied = 0;
  client_->BeginPolling();
  for (int i = 1; i <= kRequests; ++i) {
    ASSERT_OK(client_->Submit(i % 4 == 0 ? Open(i) : Getattr(i),
                              [&](absl::StatusOr<BrokerResponse> response) {
                                if (response.ok()) ++replied;
                              }));
  }
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  EXPECT_EQ(replied, kRequests);
  EXPECT_EQ(broker_->frames(), kRequests / kRequestsPerFrame);
}

TEST_F(BrokerClientPollingTest, RequestsOfAPassWaitForItsPollAndKeepTheirOrder) {
  std::vector<uint64_t> replied;
  client_->BeginPolling();
  for (uint64_t node : {3, 1, 2}) {
    ASSERT_OK(client_->Submit(Getattr(node), [&](absl::StatusOr<BrokerResponse> response) {
      ASSERT_OK(response.status());
      replied.push_back(response->reply.attr().attr().ino());
    }));
  }
  // A request from another thread goes at once; the broker serves frames in
  // order, so when it has answered, nothing else had been sent.
  std::thread([&] { ASSERT_OK(client_->Call(Getattr(9)).status()); }).join();
  EXPECT_EQ(broker_->nodes(), std::vector<uint64_t>({9}));
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  EXPECT_EQ(broker_->nodes(), std::vector<uint64_t>({9, 3, 1, 2}));
  EXPECT_EQ(replied, std::vector<uint64_t>({3, 1, 2}));
}

TEST_F(BrokerClientPollingTest, SlowOperationsAndCallsAreNotHeld) {
  absl::Notification synced;
  client_->BeginPolling();
  ASSERT_OK(client_->Submit(Getattr(1), [](absl::StatusOr<BrokerResponse>) {}));
  ASSERT_OK(client_->Submit(Fsync(2), [&](absl::StatusOr<BrokerResponse> response) {
    EXPECT_OK(response.status());
    synced.Notify();
  }));
  broker_->AwaitRequests(1);  // the fsync, sent alone without a poll
  EXPECT_EQ(broker_->nodes(), std::vector<uint64_t>({2}));
  // A Call sends what the thread holds first, then itself.
  ASSERT_OK(client_->Call(Getattr(3)).status());
  EXPECT_EQ(broker_->nodes(), std::vector<uint64_t>({2, 1, 3}));
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  synced.WaitForNotification();
  EXPECT_EQ(client_->PendingCount(), 0u);
}

TEST_F(BrokerClientPollingTest, PollingWithNothingPendingReturnsAtOnce) {
  client_->BeginPolling();
  client_->PollReplies(absl::InfiniteDuration(), Never);  // would spin forever otherwise
  client_->EndPolling();
  ASSERT_OK(client_->Call(Getattr(1)).status());
}

TEST_F(BrokerClientPollingTest, PollingStopsWhenAskedAndTheReceiverThreadTakesWhatIsDue) {
  broker_->Hold();
  const std::thread::id self = std::this_thread::get_id();
  absl::Notification replied;
  std::thread::id replied_on;
  client_->BeginPolling();
  ASSERT_OK(client_->Submit(Getattr(7), [&](absl::StatusOr<BrokerResponse> response) {
    EXPECT_EQ(response->reply.attr().attr().ino(), 7u);
    replied_on = std::this_thread::get_id();
    replied.Notify();
  }));
  client_->PollReplies(absl::InfiniteDuration(), [] { return true; });  // sends, stops
  broker_->AwaitRequests(1);
  EXPECT_FALSE(replied.HasBeenNotified());
  client_->EndPolling();
  broker_->Release();
  replied.WaitForNotification();
  EXPECT_NE(replied_on, self);
}

TEST_F(BrokerClientPollingTest, PollingGivesUpAfterTheBoundWithoutAReply) {
  broker_->Hold();
  absl::Notification replied;
  client_->BeginPolling();
  ASSERT_OK(client_->Submit(Getattr(7), [&](absl::StatusOr<BrokerResponse>) { replied.Notify(); }));
  client_->PollReplies(absl::Milliseconds(1), Never);  // returns although the reply is due
  client_->EndPolling();
  broker_->Release();
  replied.WaitForNotification();
}

TEST_F(BrokerClientPollingTest, AfterPollingGaveUpTheReceiverThreadTakesRepliesForAWhile) {
  const std::thread::id self = std::this_thread::get_id();
  broker_->Hold();
  absl::Notification replied;
  client_->BeginPolling();
  ASSERT_OK(client_->Submit(Getattr(7), [&](absl::StatusOr<BrokerResponse>) { replied.Notify(); }));
  client_->PollReplies(absl::Milliseconds(1), Never);  // gives up
  client_->EndPolling();
  broker_->Release();
  replied.WaitForNotification();

  // Paused: even an unbounded poll returns at once, and the receiver runs `done`.
  std::thread::id ran_on;
  absl::Notification second;
  client_->BeginPolling();
  ASSERT_OK(client_->Submit(Getattr(8), [&](absl::StatusOr<BrokerResponse> response) {
    EXPECT_EQ(response->reply.attr().attr().ino(), 8u);
    ran_on = std::this_thread::get_id();
    second.Notify();
  }));
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  second.WaitForNotification();
  EXPECT_NE(ran_on, self);

  // A few hundred replies later polling is tried again and takes its reply.
  bool polled = false;
  for (int i = 0; i < 2000 && !polled; ++i) {
    client_->BeginPolling();
    ASSERT_OK(client_->Submit(Getattr(i), [&](absl::StatusOr<BrokerResponse> response) {
      ASSERT_OK(response.status());
      if (std::this_thread::get_id() == self) polled = true;
    }));
    client_->PollReplies(absl::InfiniteDuration(), Never);
    client_->EndPolling();
    while (client_->PendingCount() > 0) absl::SleepFor(absl::Microseconds(100));
  }
  EXPECT_TRUE(polled);
}

TEST_F(BrokerClientPollingTest, CallWhilePollingTakesItsOwnReply) {
  // A queue thread that calls Call() between BeginPolling() and EndPolling().
  client_->BeginPolling();
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, client_->Call(Getattr(5)));
  EXPECT_EQ(response.reply.attr().attr().ino(), 5u);
  client_->EndPolling();
}

TEST_F(BrokerClientPollingTest, PendingRequestsFailWhenTheBrokerGoesWhilePolling) {
  broker_->Hold();
  std::atomic<int> failed{0};
  absl::BlockingCounter all_failed(3);
  client_->BeginPolling();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_OK(client_->Submit(Getattr(i), [&](absl::StatusOr<BrokerResponse> response) {
      EXPECT_THAT(response, StatusIs(absl::StatusCode::kUnavailable));
      ++failed;
      all_failed.DecrementCount();
    }));
  }
  client_->PollReplies(absl::InfiniteDuration(), [] { return true; });  // sends, stops
  broker_->AwaitRequests(3);
  broker_.reset();  // the broker goes, the requests in hand
  client_->PollReplies(absl::InfiniteDuration(), Never);
  client_->EndPolling();
  all_failed.Wait();  // here, or on the receiver thread if it saw the end first
  EXPECT_EQ(failed, 3);
  EXPECT_FALSE(client_->up());
}

TEST_F(BrokerClientPollingTest, IdleClientNoticesTheBrokerGoing) {
  ASSERT_OK(client_->Call(Getattr(1)).status());
  broker_.reset();
  while (client_->up()) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_THAT(client_->Call(Getattr(1)), StatusIs(absl::StatusCode::kUnavailable));
}

// The receiver thread sleeps through replies that a polling thread takes, and
// through idleness: it is not woken once.
// 1000 polled round trips; `unmatched_end_first`: after an EndPolling() without
// its BeginPolling() (a pass that began on a client since replaced).
void ExpectReceiverSleepsWhilePolling(bool unmatched_end_first) {
  auto pair = FrameSocket::CreatePair();
  ASSERT_OK(pair.status());
  Broker broker(std::move(pair->second));
  while (broker.tid() == 0) absl::SleepFor(absl::Milliseconds(1));
  const std::set<pid_t> before = Threads();
  BrokerClient client(std::move(pair->first));
  std::vector<pid_t> added;
  for (pid_t tid : Threads()) {
    if (!before.contains(tid)) added.push_back(tid);
  }
  ASSERT_EQ(added.size(), 1u);  // the receiver thread
  const pid_t receiver = added[0];
  // Let it reach its sleep (each check is a sleep of ours, not an assertion).
  int64_t sleeps = Sleeps(receiver);
  for (int settled = 0; settled < 20;) {
    absl::SleepFor(absl::Milliseconds(5));
    const int64_t now = Sleeps(receiver);
    settled = now == sleeps ? settled + 1 : 0;
    sleeps = now;
  }
  if (unmatched_end_first) client.EndPolling();
  int replies = 0;
  for (int i = 1; i <= 1000; ++i) {
    client.BeginPolling();
    ASSERT_OK(client.Submit(Getattr(i), [&](absl::StatusOr<BrokerResponse> response) {
      if (response.ok() && response->reply.attr().attr().ino() == static_cast<uint64_t>(i)) {
        ++replies;
      }
    }));
    client.PollReplies(absl::InfiniteDuration(), Never);
    client.EndPolling();
  }
  EXPECT_EQ(replies, 1000);
  EXPECT_EQ(Sleeps(receiver), sleeps) << "the receiver thread was woken";
}

TEST(BrokerClientReceiverTest, ReceiverThreadSleepsWhileAPollingThreadTakesTheReplies) {
  ExpectReceiverSleepsWhilePolling(/*unmatched_end_first=*/false);
}

TEST(BrokerClientReceiverTest, AnUnmatchedEndPollingChangesNothing) {
  ExpectReceiverSleepsWhilePolling(/*unmatched_end_first=*/true);
}
}  // namespace
}  // namespace virtiofsd
