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

absl::StatusOr<uint64_t> BrokerClient::Submit(proto::Request request, Done done, bool may_hold) {
  if (IsOneWay(request.op_case()) || request.op_case() == proto::Request::OP_NOT_SET) {
    return absl::InvalidArgumentError("Submit() needs a request that gets a reply");
  }
  uint64_t id;
  BatchFrame* held = nullptr;
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
    if (may_hold) held = HeldByThisThread();
    WakeReceiverIfNeeded();
  }
  request.set_id(id);
  absl::Status sent = SendOrHold(request, held);
  if (sent.ok()) return id;
  absl::MutexLock lock(&mu_);
  // If the receiver already failed this request, `done` ran: report success, since
  // the caller will learn the error there.
  if (pending_.erase(id) == 1) return sent;
  return id;
}

absl::Status BrokerClient::SendOrHold(const proto::Request& request, BatchFrame* held) {
  if (held == nullptr || TravelsAlone(request.op_case())) return SendRequest(socket_, request);
  VFSD_ASSIGN_OR_RETURN(bool appended, held->Append(request));
  if (!appended) {  // the batch is full: send it, and the request starts the next
    VFSD_RETURN_IF_ERROR(SendHeld(*held));
    VFSD_RETURN_IF_ERROR(held->Append(request).status());
  }
  if (held->count() >= kRequestsPerFrame) return SendHeld(*held);
  return absl::OkStatus();
}

BatchFrame* BrokerClient::HeldByThisThread() {
  auto it = held_.find(std::this_thread::get_id());
  return it == held_.end() ? nullptr : &it->second;
}

absl::Status BrokerClient::SendHeldByThisThread() {
  BatchFrame* held;
  {
    absl::MutexLock lock(&mu_);
    held = HeldByThisThread();
  }
  return held == nullptr ? absl::OkStatus() : SendHeld(*held);
}

absl::Status BrokerClient::SendHeld(BatchFrame& held) {
  absl::Status sent = held.Send(socket_);
  if (!sent.ok()) {
    Fail(absl::UnavailableError(absl::StrCat("broker channel: ", sent.message())),
         /*by_broker=*/!absl::IsUnavailable(sent));
  }
  return sent;
}

absl::StatusOr<BrokerResponse> BrokerClient::Call(proto::Request request) {
  struct Wait {
    BrokerClient* client;
    bool replied = false;  // guarded by client->mu_
    absl::StatusOr<BrokerResponse> result;
  } wait{this, false, absl::StatusOr<BrokerResponse>()};
  // What this thread holds goes first: its replies may be what the broker sends
  // before ours, and nothing else would send it while we block.
  VFSD_RETURN_IF_ERROR(SendHeldByThisThread());
  VFSD_RETURN_IF_ERROR(Submit(
                           std::move(request),
                           [&wait](absl::StatusOr<BrokerResponse> response) {
                             wait.result = std::move(response);
                             absl::MutexLock lock(&wait.client->mu_);
                             wait.replied = true;
                           },
                           /*may_hold=*/false)
                           .status());
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
  held_.try_emplace(std::this_thread::get_id());
}

void BrokerClient::PollReplies(absl::Duration bound, absl::FunctionRef<bool()> stop) {
  if (!SendHeldByThisThread().ok()) return;
  absl::Time deadline = absl::Now() + bound;
  absl::MutexLock lock(&mu_);
  while (polling_pays_ && broken_.ok() && !pending_.empty() && !receiving_) {
    receiving_ = true;
    mu_.Unlock();
    const Received received = ReceiveOne(/*wait=*/false);
    // The replies' `done` may have submitted more: they go before we poll on.
    bool go_on = received != Received::kEnded && SendHeldByThisThread().ok() && !stop();
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
  (void)SendHeldByThisThread();  // a failure ended the channel: nothing is left due
  absl::MutexLock lock(&mu_);
  held_.erase(std::this_thread::get_id());  // unmatched: see the header
  WakeReceiverIfNeeded();
}

void BrokerClient::WakeReceiverIfNeeded() {
  if (!receiver_asleep_ || wake_sent_ || receiving_) return;
  if (polling_pays_ && (!held_.empty() || pending_.empty())) return;
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof(one)) == sizeof(one)) wake_sent_ = true;
}

absl::Status BrokerClient::SendOneWay(proto::Request request) {
  if (!IsOneWay(request.op_case())) {
    return absl::InvalidArgumentError("SendOneWay() needs a one-way request");
  }
  BatchFrame* held;
  {
    absl::MutexLock lock(&mu_);
    if (!broken_.ok()) return broken_;
    held = HeldByThisThread();
  }
  request.set_id(0);
  return SendOrHold(request, held);
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

absl::Status BrokerClient::FailRequestThatLostItsFd(const proto::Reply& reply) {
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
    if (!receiving_ && (hung_up_ || !polling_pays_ || (!pending_.empty() && held_.empty()))) {
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
  absl::Status delivered;
  if (absl::IsResourceExhausted(received)) {
    absl::StatusOr<std::vector<proto::Reply>> replies = DecodeRepliesThatLostTheirFds(frame);
    delivered = replies.status();
    for (size_t i = 0; delivered.ok() && i < replies->size(); ++i) {
      proto::Reply& reply = (*replies)[i];
      delivered = ReplyFdCount(reply) == 1 ? FailRequestThatLostItsFd(reply)
                                           : Deliver(BrokerResponse{std::move(reply), UniqueFd()});
    }
  } else if (received.ok()) {
    absl::StatusOr<std::vector<BrokerResponse>> responses = DecodeReplies(frame);
    delivered = responses.status();
    for (size_t i = 0; delivered.ok() && i < responses->size(); ++i) {
      delivered = Deliver(std::move((*responses)[i]));
    }
  } else {
    Fail(absl::UnavailableError(absl::StrCat("broker channel: ", received.message())),
         /*by_broker=*/true);
    return Received::kEnded;
  }
  if (!delivered.ok()) {
    Fail(absl::UnavailableError(absl::StrCat("broker sent a bad reply: ", delivered.message())),
         /*by_broker=*/true);
    return Received::kEnded;
  }
  return Received::kReply;
}

absl::Status BrokerClient::Deliver(BrokerResponse response) {
  const proto::Reply& reply = response.reply;
  Pending pending = TakePending(reply.id());
  if (pending.done == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("reply to unknown request ", reply.id()));
  }
  if (reply.error() == 0 && reply.result_case() != ExpectedResult(pending.op)) {
    absl::Status mismatch = absl::InvalidArgumentError(
        absl::StrCat("operation ", static_cast<int>(pending.op), " answered with result ",
                     static_cast<int>(reply.result_case())));
    std::move(pending.done)(absl::UnavailableError(mismatch.message()));
    return mismatch;
  }
  std::move(pending.done)(std::move(response));
  return absl::OkStatus();
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
