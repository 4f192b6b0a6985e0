#include "common/broker_client.h"

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
    pending_.emplace(id, Pending{request.op_case(), std::move(done)});
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
  }
  // Wakes the receiver thread, which fails whatever is pending.
  socket_.Shutdown();
}

size_t BrokerClient::PendingCount() {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void BrokerClient::ReceiveLoop() {
  Frame frame;
  while (true) {
    absl::Status received = socket_.Receive(frame);
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
    Pending pending;
    {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(response->reply.id());
      if (it == pending_.end()) {
        pending.done = nullptr;
      } else {
        pending = std::move(it->second);
        pending_.erase(it);
      }
    }
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
  {
    absl::MutexLock lock(&mu_);
    if (broken_.ok()) broken_ = reason;
    status = broken_;
    for (auto& [id, pending] : pending_) failed.push_back(std::move(pending));
    pending_.clear();
  }
  socket_.Shutdown();
  VFSD_LOG(kDebug, "broker channel ended: %s", status.ToString());
  for (Pending& pending : failed) std::move(pending.done)(status);
}

}  // namespace virtiofsd
