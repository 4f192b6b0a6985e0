// The frontend's way to the broker that serves now: a BrokerClient that a fresh
// broker's can replace (after the launcher restarted a broker that died), with
// the guest's node ids and handles rewritten to each broker's (node_map.h).
//
// Submit(), Call(), SendOneWay() and up() behave as BrokerClient's, on the current
// client. A request the map answers itself (a stale node: ESTALE; the FLUSH or
// RELEASE of a handle from before a restart: success) completes with a reply of
// that errno and is never sent. Requests in flight when a broker dies fail as
// before (they may have been half done): only later ones reach the new broker.
//
// Thread-safe.

#ifndef VIRTIOFSD_FRONTEND_BROKER_LINK_H_
#define VIRTIOFSD_FRONTEND_BROKER_LINK_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/channel/broker_client.h"
#include "frontend/node_map.h"

namespace virtiofsd {

// Opens a channel: sends the Handshake and checks the broker's answer.
absl::Status Handshake(BrokerClient& broker);

class BrokerLink {
 public:
  explicit BrokerLink(std::shared_ptr<BrokerClient> client);

  absl::StatusOr<uint64_t> Submit(proto::Request request, BrokerClient::Done done);
  absl::StatusOr<BrokerResponse> Call(proto::Request request);
  absl::Status SendOneWay(proto::Request request);
  bool up() const { return Current()->up(); }
  // BrokerClient's polling, on the current client. A queue thread's pass that
  // spans a replacement begins on the old client and ends on the new one, which
  // ignores the unmatched end; the old client has failed everything by then.
  void BeginPolling() { Current()->BeginPolling(); }
  void PollReplies(absl::Duration bound, absl::FunctionRef<bool()> stop) {
    Current()->PollReplies(bound, stop);
  }
  void EndPolling() { Current()->EndPolling(); }

  // Serves from now on through `client`, a fresh broker's, already handshaken.
  // Refused (FailedPrecondition) while the current broker still serves.
  absl::Status Replace(std::shared_ptr<BrokerClient> client);
  // How many times a broker was replaced.
  uint64_t restarts() const { return map_.epoch(); }

 private:
  std::shared_ptr<BrokerClient> Current() const { return client_.load(); }

  std::atomic<std::shared_ptr<BrokerClient>> client_;
  NodeMap map_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_BROKER_LINK_H_
