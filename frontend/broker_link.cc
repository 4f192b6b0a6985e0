#include "frontend/broker_link.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

BrokerResponse Answer(int err) {
  BrokerResponse response;
  response.reply.set_error(err);
  return response;
}

}  // namespace

absl::Status Handshake(BrokerClient& broker) {
  proto::Request request;
  request.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
  VFSD_ASSIGN_OR_RETURN(BrokerResponse response, broker.Call(std::move(request)));
  if (response.reply.error() != 0) return ErrnoError(response.reply.error(), "broker handshake");
  if (response.reply.handshake().version() != proto::PROTOCOL_VERSION_CURRENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("broker speaks protocol ", response.reply.handshake().version()));
  }
  return absl::OkStatus();
}

BrokerLink::BrokerLink(std::shared_ptr<BrokerClient> client) : client_(std::move(client)) {}

absl::StatusOr<uint64_t> BrokerLink::Submit(proto::Request request, BrokerClient::Done done) {
  std::shared_ptr<BrokerClient> client = Current();
  if (!client->up()) return client->Submit(std::move(request), std::move(done));
  NodeMap::Sent sent;
  if (std::optional<int> answer = map_.ToBroker(request, *client, sent)) {
    std::move(done)(Answer(*answer));
    return 0;
  }
  if (!NodeMap::Records(sent.op)) return client->Submit(std::move(request), std::move(done));
  return client->Submit(std::move(request), [this, sent = std::move(sent), done = std::move(done)](
                                                absl::StatusOr<BrokerResponse> response) mutable {
    if (response.ok() && response->reply.error() == 0) {
      map_.FromBroker(sent, response->reply);
    }
    std::move(done)(std::move(response));
  });
}

absl::StatusOr<BrokerResponse> BrokerLink::Call(proto::Request request) {
  std::shared_ptr<BrokerClient> client = Current();
  if (!client->up()) return client->Call(std::move(request));
  NodeMap::Sent sent;
  if (std::optional<int> answer = map_.ToBroker(request, *client, sent)) return Answer(*answer);
  absl::StatusOr<BrokerResponse> response = client->Call(std::move(request));
  if (response.ok() && response->reply.error() == 0) map_.FromBroker(sent, response->reply);
  return response;
}

absl::Status BrokerLink::SendOneWay(proto::Request request) {
  std::shared_ptr<BrokerClient> client = Current();
  if (!client->up()) return client->SendOneWay(std::move(request));
  NodeMap::Sent sent;
  if (map_.ToBroker(request, *client, sent).has_value()) return absl::OkStatus();
  return client->SendOneWay(std::move(request));
}

absl::Status BrokerLink::Replace(std::shared_ptr<BrokerClient> client) {
  std::shared_ptr<BrokerClient> current = Current();
  if (current->up()) {
    return absl::FailedPreconditionError("the broker still serves: a new channel is refused");
  }
  // Ids from now on are the new broker's; requests still on the old client fail.
  map_.NewEpoch();
  client_.store(std::move(client));
  return absl::OkStatus();
}

}  // namespace virtiofsd
