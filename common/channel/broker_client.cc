#include "common/channel/broker_client.h"

#include <errno.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "common/status.h"

namespace virtiofsd {

BrokerClient::BrokerClient(FrameSocket socket)
    : socket_(std::move(socket)), receiver_([this] { ReceiveLoop(); }) {}

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
  absl::StatusOr<BrokerResponse> result;
  absl::Notification replied;
  VFSD_RETURN_IF_ERROR(Submit(std::move(request), [&](absl::StatusOr<BrokerResponse> response) {
                         result = std::move(response);
                         replied.Notify();
                       }).status());
  replied.WaitForNotification();
  return result;
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
  {
    absl::MutexLock lock(&mu_);
    if (broken_.ok()) broken_ = absl::UnavailableError(reason);
    up_.store(false, std::memory_order_release);
  }
  // Wakes the receiver thread, which fails whatever is pending.
  socket_.Shutdown();
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

void BrokerClient::ReceiveLoop() {
  Frame frame;
  while (true) {
    absl::Status received = socket_.Receive(frame);
    if (absl::IsResourceExhausted(received)) {
      if (absl::Status failed = FailRequestThatLostItsFd(frame); !failed.ok()) {
        Fail(absl::UnavailableError(absl::StrCat("broker sent a bad reply: ", failed.message())));
        return;
      }
      continue;
    }
    if (!received.ok()) {
      Fail(absl::UnavailableError(absl::StrCat("broker channel: ", received.message())));
      return;
    }
    absl::StatusOr<BrokerResponse> response = DecodeReply(frame);
    if (!response.ok()) {
      Fail(absl::UnavailableError(
          absl::StrCat("broker sent a bad reply: ", response.status().message())));
      return;
    }
    Pending pending = TakePending(response->reply.id());
    if (pending.done == nullptr) {
      Fail(absl::UnavailableError(
          absl::StrCat("broker replied to unknown request ", response->reply.id())));
      return;
    }
    const proto::Reply& reply = response->reply;
    if (reply.error() == 0 && reply.result_case() != ExpectedResult(pending.op)) {
      absl::Status mismatch = absl::UnavailableError(
          absl::StrCat("broker answered operation ", static_cast<int>(pending.op), " with result ",
                       static_cast<int>(reply.result_case())));
      std::move(pending.done)(mismatch);
      Fail(mismatch);
      return;
    }
    std::move(pending.done)(std::move(response));
  }
}

void BrokerClient::Fail(absl::Status reason) {
  std::vector<Pending> failed;
  absl::Status status;
  bool first = false;  // the broker's side ended it, not our Shutdown()
  {
    absl::MutexLock lock(&mu_);
    if (broken_.ok()) {
      broken_ = reason;
      up_.store(false, std::memory_order_release);
      first = true;
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
