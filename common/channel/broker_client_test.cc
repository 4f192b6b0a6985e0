#include "common/channel/broker_client.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/channel/broker_wire.h"
#include "common/logging.h"
#include "common/status_matchers.h"
#include "common/testing/full_fd_table.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::IsOk;
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

// The broker's end, played by real channel code on a thread: answers GETATTR with
// ino = node, OPEN with a memfd holding "data", LOOKUP with EACCES, and counts
// one-way requests. `misbehave`, if set, replaces the answer to each request.
class FakeBroker {
 public:
  using Misbehave = std::function<void(FrameSocket&, const proto::Request&)>;

  explicit FakeBroker(FrameSocket socket, Misbehave misbehave = nullptr)
      : socket_(std::move(socket)),
        misbehave_(std::move(misbehave)),
        thread_([this] { Serve(); }) {}
  ~FakeBroker() {
    socket_.Shutdown();
    thread_.join();
  }
  int one_way_received() const { return one_way_received_; }

 private:
  void Serve() {
    Frame frame;
    while (socket_.Receive(frame).ok()) {
      absl::StatusOr<proto::Request> request = DecodeRequest(frame);
      ASSERT_OK(request.status());
      if (misbehave_) {
        misbehave_(socket_, *request);
        continue;
      }
      if (request->id() == 0) {
        ++one_way_received_;
        continue;
      }
      proto::Reply reply;
      reply.set_id(request->id());
      UniqueFd fd;
      switch (request->op_case()) {
        case proto::Request::kGetattr:
          reply.mutable_attr()->mutable_attr()->set_ino(request->getattr().node());
          break;
        case proto::Request::kOpen:
          fd.Reset(memfd_create("data", MFD_CLOEXEC));
          ASSERT_EQ(write(fd.get(), "data", 4), 4);
          reply.mutable_open()->set_handle(request->open().node());
          break;
        default:
          reply.set_error(EACCES);
      }
      if (!SendReply(socket_, reply, fd.get()).ok()) return;
    }
  }

  FrameSocket socket_;
  Misbehave misbehave_;
  std::atomic<int> one_way_received_{0};
  std::thread thread_;
};

class BrokerClientTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_before_ = OpenFds(); }
  void TearDown() override {
    client_.reset();
    broker_.reset();
    EXPECT_EQ(OpenFds(), fds_before_) << "an fd leaked";
  }
  void Start(FakeBroker::Misbehave misbehave = nullptr) {
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    client_.emplace(std::move(pair->first));
    broker_.emplace(std::move(pair->second), std::move(misbehave));
  }

  std::set<int> fds_before_;
  std::optional<BrokerClient> client_;
  std::optional<FakeBroker> broker_;
};

TEST_F(BrokerClientTest, CallRoundTrip) {
  Start();
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, client_->Call(Getattr(42)));
  EXPECT_EQ(response.reply.error(), 0);
  EXPECT_EQ(response.reply.attr().attr().ino(), 42u);
  EXPECT_FALSE(response.fd.valid());
  EXPECT_EQ(client_->PendingCount(), 0u);
}

TEST_F(BrokerClientTest, CallRoundTripWithAnFd) {
  Start();
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, client_->Call(Open(9)));
  EXPECT_EQ(response.reply.open().handle(), 9u);
  ASSERT_TRUE(response.fd.valid());
  char buf[4];
  ASSERT_EQ(pread(response.fd.get(), buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "data");
}

TEST_F(BrokerClientTest, ErrnoReachesTheCallerUnchanged) {
  Start();
  proto::Request lookup;
  lookup.mutable_lookup()->set_parent(1);
  lookup.mutable_lookup()->set_name("secret");
  ASSERT_OK_AND_ASSIGN(BrokerResponse response, client_->Call(lookup));
  EXPECT_EQ(response.reply.error(), EACCES);
}

TEST_F(BrokerClientTest, OneWayRequestsGetNoReply) {
  Start();
  proto::Request forget;
  forget.mutable_forget()->set_node(3);
  forget.mutable_forget()->set_nlookup(1);
  ASSERT_OK(client_->SendOneWay(forget));
  // Ordered after the forget on the same socket.
  ASSERT_OK(client_->Call(Getattr(1)).status());
  EXPECT_EQ(broker_->one_way_received(), 1);
  EXPECT_THAT(client_->SendOneWay(Getattr(1)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client_->Submit(forget, [](auto) { FAIL(); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BrokerClientTest, TenThousandPipelinedRequestsFromFourThreads) {
  Start();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  absl::BlockingCounter replies(kThreads * kPerThread);
  std::atomic<int> matched{0};
  std::atomic<int> with_fd{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t node = static_cast<uint64_t>(t) * 1000000 + i;
        const bool open = i % 10 == 0;
        ASSERT_OK(client_->Submit(open ? Open(node) : Getattr(node),
                                  [&, node, open](absl::StatusOr<BrokerResponse> response) {
                                    if (response.ok()) {
                                      const uint64_t got =
                                          open ? response->reply.open().handle()
                                               : response->reply.attr().attr().ino();
                                      if (got == node) ++matched;
                                      if (response->fd.valid()) ++with_fd;
                                    }
                                    replies.DecrementCount();
                                  }));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  replies.Wait();
  EXPECT_EQ(matched, kThreads * kPerThread);
  EXPECT_EQ(with_fd, kThreads * kPerThread / 10);
  EXPECT_EQ(client_->PendingCount(), 0u);
}

TEST_F(BrokerClientTest, BrokerClosingMidStreamFailsEveryPendingRequest) {
  std::atomic<int> seen{0};
  std::optional<FrameSocket> broker_end;
  {
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    client_.emplace(std::move(pair->first));
    broker_end.emplace(std::move(pair->second));
  }
  constexpr int kRequests = 8;
  absl::BlockingCounter failed(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_OK(client_->Submit(Getattr(i), [&](absl::StatusOr<BrokerResponse> response) {
      EXPECT_THAT(response, StatusIs(absl::StatusCode::kUnavailable));
      ++seen;
      failed.DecrementCount();
    }));
  }
  broker_end.reset();  // The broker dies with 8 requests unanswered.
  failed.Wait();
  EXPECT_EQ(seen, kRequests);
  EXPECT_THAT(client_->Call(Getattr(1)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(client_->PendingCount(), 0u);
}

TEST_F(BrokerClientTest, BlockedCallersWakeWhenTheBrokerDies) {
  Start([](FrameSocket& socket, const proto::Request& request) {
    if (request.getattr().node() == 3) socket.Shutdown();  // Never answers.
  });
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] {
      EXPECT_THAT(client_->Call(Getattr(i + 1)), StatusIs(absl::StatusCode::kUnavailable));
    });
  }
  for (auto& caller : callers) caller.join();
}

// The error lines logged while it lives.
class ErrorLog {
 public:
  ErrorLog() {
    SetLogSink([this](LogLevel level, absl::string_view line) {
      if (level != LogLevel::kError) return;
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~ErrorLog() { SetLogSink(nullptr); }
  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// The frontend serves on after the broker has gone (answering EIO): every later
// request must fail at once, without waiting or filling the log.
TEST_F(BrokerClientTest, AfterTheBrokerIsGoneEveryRequestFailsAtOnceAndTheCauseIsLoggedOnce) {
  ErrorLog log;
  std::optional<FrameSocket> broker_end;
  {
    auto pair = FrameSocket::CreatePair();
    ASSERT_OK(pair.status());
    client_.emplace(std::move(pair->first));
    broker_end.emplace(std::move(pair->second));
  }
  EXPECT_TRUE(client_->up());
  broker_end.reset();  // the broker dies
  // Until the receiver has seen it, a request fails in its send or in its callback.
  EXPECT_THAT(client_->Call(Getattr(1)), StatusIs(absl::StatusCode::kUnavailable));
  for (int i = 0; i < 10000 && client_->up(); ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_FALSE(client_->up());
  for (int i = 0; i < 1000; ++i) {
    EXPECT_THAT(client_->Submit(Getattr(i), [](auto) { FAIL() << "ran after a failed Submit"; }),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  proto::Request forget;
  forget.mutable_forget()->set_node(3);
  forget.mutable_forget()->set_nlookup(1);
  EXPECT_THAT(client_->SendOneWay(forget), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(client_->PendingCount(), 0u);
  client_.reset();
  const std::vector<std::string> errors = log.lines();
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "broker channel: peer closed the channel: every request fails from now on");
}

TEST_F(BrokerClientTest, OurOwnShutdownIsNoError) {
  ErrorLog log;
  Start();
  ASSERT_OK(client_->Call(Getattr(1)).status());
  client_->Shutdown();
  EXPECT_FALSE(client_->up());
  client_.reset();
  EXPECT_TRUE(log.lines().empty()) << ::testing::PrintToString(log.lines());
}

proto::Reply AttrReply(uint64_t id) {
  proto::Reply reply;
  reply.set_id(id);
  reply.mutable_attr();
  return reply;
}

// A reply whose fd cannot be received (the frontend's fd table is full) fails that
// request with ENFILE; the channel stays up, and the client gives back what the
// reply granted: the handle (RELEASE, as the caller) and a created node (FORGET).
TEST_F(BrokerClientTest, ReplyWhoseFdCannotBeReceivedFailsOnlyItsRequest) {
  const int file = memfd_create("file", MFD_CLOEXEC);
  ASSERT_GE(file, 0);
  std::vector<proto::Request> seen;  // only the broker thread touches it until joined
  Start([&](FrameSocket& socket, const proto::Request& request) {
    seen.push_back(request);
    if (request.id() == 0) return;  // FORGET
    proto::Reply reply;
    reply.set_id(request.id());
    int fd = -1;
    if (request.has_open()) {
      reply.mutable_open()->set_handle(70);
      fd = file;
    } else if (request.has_create()) {
      reply.mutable_create()->set_handle(71);
      reply.mutable_create()->mutable_entry()->set_node(81);
      fd = file;
    } else if (request.has_getattr()) {
      reply.mutable_attr();
    } else {
      reply.mutable_empty();
    }
    ASSERT_OK(SendReply(socket, reply, fd));
  });
  proto::Request create;
  create.mutable_caller()->set_uid(1000);
  create.mutable_create()->set_parent(1);
  create.mutable_create()->set_name("new");
  // UBSan checks an object's dynamic type the first time it meets the type, by
  // probing memory through a pipe, which a full fd table refuses (a false
  // "invalid vptr"): one of each exchange first, while fds are to be had.
  ASSERT_OK(client_->Call(Open(9)).status());
  ASSERT_OK(client_->Call(create).status());
  proto::Request release;
  release.mutable_release()->set_handle(70);
  ASSERT_OK(client_->Call(release).status());
  proto::Request forget;
  forget.mutable_forget()->set_node(81);
  forget.mutable_forget()->set_nlookup(1);
  ASSERT_OK(client_->SendOneWay(forget));
  constexpr size_t kWarm = 4;
  {
    ::virtiofsd::testing::FullFdTable full;
    ASSERT_OK_AND_ASSIGN(BrokerResponse opened, client_->Call(Open(9)));
    EXPECT_EQ(opened.reply.error(), ENFILE);
    EXPECT_FALSE(opened.fd.valid());
    ASSERT_OK_AND_ASSIGN(BrokerResponse created, client_->Call(create));
    EXPECT_EQ(created.reply.error(), ENFILE);
  }
  // The channel still serves; it is ordered after the RELEASE and FORGET frames.
  ASSERT_OK_AND_ASSIGN(BrokerResponse attr, client_->Call(Getattr(1)));
  EXPECT_EQ(attr.reply.error(), 0);
  client_.reset();
  broker_.reset();
  close(file);
  ASSERT_EQ(seen.size(), kWarm + 6);
  EXPECT_TRUE(seen[kWarm + 1].has_release());
  EXPECT_EQ(seen[kWarm + 1].release().handle(), 70u);
  EXPECT_TRUE(seen[kWarm + 3].has_release());
  EXPECT_EQ(seen[kWarm + 3].release().handle(), 71u);
  EXPECT_EQ(seen[kWarm + 3].caller().uid(), 1000u);
  EXPECT_TRUE(seen[kWarm + 4].has_forget());
  EXPECT_EQ(seen[kWarm + 4].forget().node(), 81u);
  EXPECT_EQ(seen[kWarm + 4].forget().nlookup(), 1u);
  EXPECT_TRUE(seen[kWarm + 5].has_getattr());
}

// An fd lost on a reply that must carry none is still a protocol violation.
TEST_F(BrokerClientTest, LostFdOnAReplyThatCarriesNoneEndsTheChannel) {
  const int file = memfd_create("file", MFD_CLOEXEC);
  ASSERT_GE(file, 0);
  Start([&](FrameSocket& socket, const proto::Request& request) {
    const int fds[] = {file};
    (void)socket.Send(AttrReply(request.id()).SerializeAsString(), fds);
  });
  proto::Reply warm;  // see ReplyWhoseFdCannotBeReceivedFailsOnlyItsRequest
  ASSERT_TRUE(warm.ParseFromString(AttrReply(4).SerializeAsString()));
  {
    ::virtiofsd::testing::FullFdTable full;
    EXPECT_THAT(client_->Call(Getattr(5)), StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_THAT(client_->Call(Getattr(6)), StatusIs(absl::StatusCode::kUnavailable));
  client_.reset();
  broker_.reset();
  close(file);
}

// Each hostile answer must fail the call, end the channel and leak nothing.
struct HostileCase {
  const char* name;
  FakeBroker::Misbehave answer;
};

class HostileBrokerTest : public BrokerClientTest,
                          public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileBrokerTest, FailsTheCallAndTheChannel) {
  Start(GetParam().answer);
  EXPECT_THAT(client_->Call(Getattr(5)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(client_->Call(Getattr(6)), StatusIs(absl::StatusCode::kUnavailable));
}

void SendWithFds(FrameSocket& socket, const proto::Reply& reply, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
  (void)socket.Send(reply.SerializeAsString(), fds);
  for (int fd : fds) close(fd);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileBrokerTest,
    ::testing::Values(HostileCase{"garbage",
                                  [](FrameSocket& s, const proto::Request&) {
                                    (void)s.Send("\xff\xfe garbage");
                                  }},
                      HostileCase{"unknown_id",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    SendWithFds(s, AttrReply(r.id() + 1000), 0);
                                  }},
                      HostileCase{"fd_on_a_reply_without_fds",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    SendWithFds(s, AttrReply(r.id()), 1);
                                  }},
                      HostileCase{"wrong_result_kind",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    proto::Reply reply;
                                    reply.set_id(r.id());
                                    reply.mutable_statfs();
                                    SendWithFds(s, reply, 0);
                                  }},
                      HostileCase{"open_result_for_getattr_with_fd",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    proto::Reply reply;
                                    reply.set_id(r.id());
                                    reply.mutable_open();
                                    SendWithFds(s, reply, 1);
                                  }},
                      HostileCase{"truncated_frame",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    std::string bytes = AttrReply(r.id()).SerializeAsString();
                                    (void)s.Send(bytes.substr(0, bytes.size() - 1));
                                  }},
                      HostileCase{"too_many_fds",
                                  [](FrameSocket& s, const proto::Request& r) {
                                    SendWithFds(s, AttrReply(r.id()), kMaxFdsPerFrame);
                                  }},
                      HostileCase{"closes_mid_stream",
                                  [](FrameSocket& s, const proto::Request&) { s.Shutdown(); }}),
    [](const ::testing::TestParamInfo<HostileCase>& info) { return info.param.name; });

}  // namespace
}  // namespace virtiofsd
