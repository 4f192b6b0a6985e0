// The frontend's end of the broker channel: sends requests from any thread and
// matches each reply to its request by id, so many requests can be in flight.
//
// Two ways to call:
// - Submit(): the pipelined path. Returns once the request is sent; `done` runs
//   later, exactly once, on the client's receiver thread, with the reply or with
//   the error that ended the channel. Keep `done` short and non-blocking: it holds
//   up every later reply.
// - Call(): blocks the calling thread until its reply arrives.
//
// Replies are checked with DecodeReply() and against the request's operation
// (ExpectedResult()). Any protocol violation by the broker, or the broker going
// away, ends the channel: every pending request fails with kUnavailable naming
// the cause, and later calls fail at once. Nothing waits forever. The cause is
// logged once, as an error, when the channel ends other than by Shutdown().
//
// A reply whose fd this process cannot receive (its fd table is full) fails only
// its own request, with a reply of error ENFILE; the client then gives back what
// the reply granted: a ReleaseRequest for its handle and, for a Create or Tmpfile
// reply, a ForgetRequest for its node.

#ifndef VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_
#define VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class BrokerClient {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<BrokerResponse>) &&>;

  // Takes the connected socket and starts the receiver thread.
  explicit BrokerClient(FrameSocket socket);
  // Shuts the channel down (pending requests fail) and joins the receiver thread.
  ~BrokerClient();

  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  // Assigns `request` a fresh id and sends it; returns the id (an InterruptRequest
  // can name it). On success `done` will run exactly once, possibly before Submit()
  // returns; on error (the channel is down, the request is one-way or does not fit
  // a frame) `done` never runs. Thread-safe.
  absl::StatusOr<uint64_t> Submit(proto::Request request, Done done);

  // Submit() and wait for the reply. Must not be called from a `done` callback.
  absl::StatusOr<BrokerResponse> Call(proto::Request request);

  // Sends a one-way request (id 0); no reply comes. Thread-safe.
  absl::Status SendOneWay(proto::Request request);

  // Ends the channel with `reason`: pending and later requests fail with it.
  void Shutdown(absl::string_view reason = "client shut down");

  // Requests sent and not yet answered.
  size_t PendingCount();

  // False once the channel has ended (the broker went, or Shutdown()); every
  // request fails from then on. Cheap: the frontend asks on every READ and WRITE.
  bool up() const { return up_.load(std::memory_order_acquire); }

 private:
  struct Pending {
    proto::Request::OpCase op;
    proto::Caller caller;  // whose handle a Release gives back, for fd-carrying ops
    Done done;
  };

  void ReceiveLoop();
  // The pending request `id`, removed from the table; done is null if none.
  Pending TakePending(uint64_t id);
  // Fails the request that the fd-less reply in `frame` answers with ENFILE and
  // releases what it granted. An error is a protocol violation.
  absl::Status FailRequestThatLostItsFd(Frame& frame);
  // Marks the channel broken (first reason wins) and fails all pending requests.
  void Fail(absl::Status reason);

  FrameSocket socket_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> up_{true};  // broken_.ok(), readable without mu_
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::thread receiver_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_
