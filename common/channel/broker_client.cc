#include "common/channel/broker_client.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

// After polling gave up, how many replies the receiver thread takes before
// polling is tried again.
constexpr int kRepliesBeforeTryingAgain = 256;

}  // namespace

BrokerClient::BrokerClient(FrameSocket socket)
    : socket_(std::move(socket)),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      receiver_([this] { ReceiverLoop(); }) {}

BrokerClient::~BrokerClient() {
  Shutdown();
  receiver_.join();
}

absl::StatusOr<uint64_t> BrokerClient::Submit(proto::Request request, Done done) {
  if (IsOneWay(request.op_case()) || request.op_case() == proto::Request::OP_NOT_SET) {
    return absl::InvalidArgumentError("Submit() needs a request that gets a reply");
  }
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
    id = next_id_++;
    // Registered before sending: the reply may arrive before sendmsg returns.
    Pending& pending = pending_[id];
    pending.op = request.op_case();
    if (ExpectedResult(pending.op) == proto::Reply::kOpen ||
        ExpectedResult(pending.op) == proto::Reply::kCreate) {
      pending.caller = request.caller();
    }
    pending.done = std::move(done);
    WakeReceiverIfNeeded();
  }
  request.set_id(id);
  absl::Status sent = SendRequest(socket_, request);
  if (sent.ok()) return id;
  absl::MutexLock lock(&mu_);
  // If the receiver already failed this request, `done` ran: report success, since
  // the caller will learn the error there.
  if (pending_.erase(id) == 1) return sent;
  return id;
}

absl::StatusOr<BrokerResponse> BrokerClient::Call(proto::Request request) {
  struct Wait {
    BrokerClient* client;
    bool replied = false;  // guarded by client->mu_
    absl::StatusOr<BrokerResponse> result;
  } wait{this, false, absl::StatusOr<BrokerResponse>()};
  VFSD_RETURN_IF_ERROR(Submit(std::move(request), [&wait](absl::StatusOr<BrokerResponse> response) {
                         wait.result = std::move(response);
                         absl::MutexLock lock(&wait.client->mu_);
                         wait.replied = true;
                       }).status());
  absl::MutexLock lock(&mu_);
  while (!wait.replied) {
    if (receiving_) {
      // Another thread receives; it runs our `done`, or gives the socket up.
      mu_.Await(absl::Condition(
          +[](Wait* w)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->replied || !w->client->receiving_; },
          &wait));
      continue;
    }
    receiving_ = true;
    mu_.Unlock();
    ReceiveOne(/*wait=*/true);
    mu_.Lock();
    receiving_ = false;
    WakeReceiverIfNeeded();
  }
  return std::move(wait.result);
}

void BrokerClient::BeginPolling() {
  absl::MutexLock lock(&mu_);
  ++pollers_;
}

void BrokerClient::PollReplies(absl::Duration bound, absl::FunctionRef<bool()> stop) {
  absl::Time deadline = absl::Now() + bound;
  absl::MutexLock lock(&mu_);
  while (polling_pays_ && broken_.ok() && !pending_.empty() && !receiving_) {
    receiving_ = true;
    mu_.Unlock();
    const Received received = ReceiveOne(/*wait=*/false);
    bool go_on = received != Received::kEnded && !stop();
    bool gave_up = false;
    if (go_on) {
      const absl::Time now = absl::Now();
      if (received == Received::kReply) {
        deadline = now + bound;
      } else if (now < deadline) {
        sched_yield();  // lets the thread that owes the reply run first if it waits for this CPU
      } else {
        go_on = false;
        gave_up = true;
      }
    }
    mu_.Lock();
    receiving_ = false;
    if (gave_up) {
      // Replies come slower than the bound (a busy machine): the receiver thread
      // takes them until kRepliesBeforeTryingAgain have come.
      polling_pays_ = false;
      replies_since_giving_up_ = 0;
    }
    if (!go_on) break;
  }
}

void BrokerClient::EndPolling() {
  absl::MutexLock lock(&mu_);
  if (pollers_ > 0) --pollers_;  // unmatched: see the header
  WakeReceiverIfNeeded();
}

void BrokerClient::WakeReceiverIfNeeded() {
  if (!receiver_asleep_ || wake_sent_ || receiving_) return;
  if (polling_pays_ && (pollers_ > 0 || pending_.empty())) return;
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof(one)) == sizeof(one)) wake_sent_ = true;
}

absl::Status BrokerClient::SendOneWay(proto::Request request) {
  if (!IsOneWay(request.op_case())) {
    return absl::InvalidArgumentError("SendOneWay() needs a one-way request");
  }
  {
    absl::MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
  }
  request.set_id(0);
  return SendRequest(socket_, request);
}

void BrokerClient::Shutdown(absl::string_view reason) {
  Fail(absl::UnavailableError(reason), /*by_broker=*/false);
}

size_t BrokerClient::PendingCount() {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

BrokerClient::Pending BrokerClient::TakePending(uint64_t id) {
  Pending pending;
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    pending = std::move(it->second);
    pending_.erase(it);
  }
  return pending;
}

absl::Status BrokerClient::FailRequestThatLostItsFd(Frame& frame) {
  VFSD_ASSIGN_OR_RETURN(proto::Reply reply, DecodeReplyThatLostItsFd(frame));
  Pending pending = TakePending(reply.id());
  if (pending.done == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("reply to unknown request ", reply.id()));
  }
  if (reply.result_case() != ExpectedResult(pending.op)) {
    absl::Status mismatch = absl::InvalidArgumentError(
        absl::StrCat("operation ", static_cast<int>(pending.op), " answered with result ",
                     static_cast<int>(reply.result_case())));
    std::move(pending.done)(absl::UnavailableError(mismatch.message()));
    return mismatch;
  }
  VFSD_LOG(kWarn, "the fd of broker reply %d could not be received (fd table full): ENFILE",
           reply.id());
  const bool created = reply.has_create();
  proto::Request release;
  *release.mutable_caller() = std::move(pending.caller);
  release.mutable_release()->set_handle(created ? reply.create().handle() : reply.open().handle());
  // Its reply (or the channel's end) needs no action: the handle is gone either way.
  (void)Submit(std::move(release), [](absl::StatusOr<BrokerResponse>) {});
  if (created) {
    proto::Request forget;
    forget.mutable_forget()->set_node(reply.create().entry().node());
    forget.mutable_forget()->set_nlookup(1);
    (void)SendOneWay(std::move(forget));
  }
  BrokerResponse failed;
  failed.reply.set_id(reply.id());
  failed.reply.set_error(ENFILE);
  std::move(pending.done)(std::move(failed));
  return absl::OkStatus();
}

void BrokerClient::ReceiverLoop() {
  absl::MutexLock lock(&mu_);
  while (broken_.ok()) {
    if (!receiving_ && (hung_up_ || !polling_pays_ || (!pending_.empty() && pollers_ == 0))) {
      receiving_ = true;
      mu_.Unlock();
      const Received received = ReceiveOne(/*wait=*/true);
      mu_.Lock();
      receiving_ = false;
      if (received == Received::kReply && !polling_pays_ &&
          ++replies_since_giving_up_ >= kRepliesBeforeTryingAgain) {
        polling_pays_ = true;
      }
      continue;
    }
    if (hung_up_) {
      // The thread receiving meets the end too; wait for it to give the socket up.
      mu_.Await(absl::Condition(
          +[](BrokerClient* c)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return !c->receiving_ || !c->broken_.ok(); },
          this));
      continue;
    }
    // Sleep until a request is left to us (wake_) or the socket ends. Asking for
    // POLLRDHUP alone, arriving frames do not wake this thread.
    receiver_asleep_ = true;
    mu_.Unlock();
    pollfd fds[2] = {{socket_.fd(), POLLRDHUP, 0}, {wake_.get(), POLLIN, 0}};
    const int polled = poll(fds, 2, -1);
    const int poll_errno = errno;
    mu_.Lock();
    receiver_asleep_ = false;
    if (wake_sent_) {
      uint64_t count;
      ssize_t ignored = read(wake_.get(), &count, sizeof(count));
      (void)ignored;
      wake_sent_ = false;
    }
    if (polled < 0 && poll_errno != EINTR) {
      mu_.Unlock();
      Fail(absl::UnavailableError(absl::StrCat("broker channel: poll: ", strerror(poll_errno))),
           /*by_broker=*/true);
      mu_.Lock();
    } else if (polled > 0 && fds[0].revents != 0) {
      hung_up_ = true;
    }
  }
}

BrokerClient::Received BrokerClient::ReceiveOne(bool wait) {
  Frame& frame = frame_;
  absl::Status received;
  if (wait) {
    received = socket_.Receive(frame);
  } else {
    absl::StatusOr<bool> got = socket_.TryReceive(frame);
    if (got.ok() && !*got) return Received::kNothing;
    received = got.status();
  }
  if (absl::IsResourceExhausted(received)) {
    if (absl::Status failed = FailRequestThatLostItsFd(frame); !failed.ok()) {
      Fail(absl::UnavailableError(absl::StrCat("broker sent a bad reply: ", failed.message())),
           /*by_broker=*/true);
      return Received::kEnded;
    }
    return Received::kReply;
  }
  if (!received.ok()) {
    Fail(absl::UnavailableError(absl::StrCat("broker channel: ", received.message())),
         /*by_broker=*/true);
    return Received::kEnded;
  }
  absl::StatusOr<BrokerResponse> response = DecodeReply(frame);
  if (!response.ok()) {
    Fail(absl::UnavailableError(
             absl::StrCat("broker sent a bad reply: ", response.status().message())),
         /*by_broker=*/true);
    return Received::kEnded;
  }
  Pending pending = TakePending(response->reply.id());
  if (pending.done == nullptr) {
    Fail(absl::UnavailableError(
             absl::StrCat("broker replied to unknown request ", response->reply.id())),
         /*by_broker=*/true);
    return Received::kEnded;
  }
  const proto::Reply& reply = response->reply;
  if (reply.error() == 0 && reply.result_case() != ExpectedResult(pending.op)) {
    absl::Status mismatch = absl::UnavailableError(
        absl::StrCat("broker answered operation ", static_cast<int>(pending.op), " with result ",
                     static_cast<int>(reply.result_case())));
    std::move(pending.done)(mismatch);
    Fail(mismatch, /*by_broker=*/true);
    return Received::kEnded;
  }
  std::move(pending.done)(std::move(response));
  return Received::kReply;
}

void BrokerClient::Fail(absl::Status reason, bool by_broker) {
  std::vector<Pending> failed;
  absl::Status status;
  bool first = false;  // the broker's side ended it, not our Shutdown()
  {
    absl::MutexLock lock(&mu_);
    if (broken_.ok()) {
      broken_ = reason;
      up_.store(false, std::memory_order_release);
      first = by_broker;
    }
    status = broken_;
    for (auto& [id, pending] : pending_) failed.push_back(std::move(pending));
    pending_.clear();
  }
  socket_.Shutdown();
  if (first) {
    VFSD_LOG(kError, "%s: every request fails from now on", status.message());
  } else {
    VFSD_LOG(kDebug, "broker channel ended: %s", status.ToString());
  }
  for (Pending& pending : failed) std::move(pending.done)(status);
}

}  // namespace virtiofsd
