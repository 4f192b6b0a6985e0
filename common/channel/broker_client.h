// The frontend's end of the broker channel: sends requests from any thread and
// matches each reply to its request by id, so many requests can be in flight.
//
// Two ways to call:
// - Submit(): the pipelined path. Returns once the request is sent; `done` runs
//   later, exactly once, on the thread that receives the reply (see below), with
//   the reply or with the error that ended the channel. Keep `done` short and
//   non-blocking: it holds up every later reply.
// - Call(): blocks the calling thread until its reply arrives.
//
// Batches: a queue thread that polls (BeginPolling() ... EndPolling()) holds the
// requests it submits in one frame (a RequestBatch) and sends it when it starts
// to poll for their replies, when kRequestsPerFrame requests are held or the
// frame is full, before it blocks in Call(), and at EndPolling(). So the requests
// one kick brings cost the broker one wake-up, not one each. Slow operations
// (TravelsAlone()) and requests from other threads go at once, alone.
//
// Who receives: one thread at a time reads the socket. A queue thread that
// forwards requests and then polls (BeginPolling() ... PollReplies()) takes the
// replies due to them itself, without blocking and for a bounded time, so a reply
// that comes soon costs no thread a wake-up. A thread in Call() receives while
// no other thread does. The client's receiver thread receives only replies nobody
// else is there for; otherwise it sleeps, woken by nothing but a request left to
// it or the channel's end (so the broker going away is noticed at once, and an
// idle client uses no CPU). When polling gives up without a reply (replies come
// slower than its bound, as on a busy machine), polling pauses: the receiver
// thread waits in recvmsg() for every reply, and polling is tried again after a
// few hundred replies.
//
// Replies are checked with DecodeReplies() and against the request's operation
// (ExpectedResult()). Any protocol violation by the broker, or the broker going
// away, ends the channel: every pending request fails with kUnavailable naming
// the cause, and later calls fail at once. Nothing waits forever. The cause is
// logged once, as an error, when the channel ends other than by Shutdown().
//
// A reply whose fd this process cannot receive (its fd table is full) fails only
// its own request (and those of the other fd-carrying replies in its frame), with
// a reply of error ENFILE; the client then gives back what
// the reply granted: a ReleaseRequest for its handle and, for a Create or Tmpfile
// reply, a ForgetRequest for its node.

#ifndef VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_
#define VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// A polling thread sends its held batch once it holds this many requests, so the
// broker starts on the first ones while the thread forwards the rest of a kick.
inline constexpr size_t kRequestsPerFrame = 16;

class BrokerClient {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<BrokerResponse>) &&>;

  // Takes the connected socket and starts the receiver thread.
  explicit BrokerClient(FrameSocket socket);
  // Shuts the channel down (pending requests fail) and joins the receiver thread.
  ~BrokerClient();

  BrokerClient(const BrokerClient&) = delete;
  BrokerClient& operator=(const BrokerClient&) = delete;

  // Assigns `request` a fresh id and sends it, or holds it in the calling thread's
  // batch (see above); returns the id (an InterruptRequest can name it). On success
  // `done` will run exactly once, possibly before Submit() returns; on error (the
  // channel is down, the request is one-way or does not fit a frame) `done` never
  // runs. Thread-safe.
  absl::StatusOr<uint64_t> Submit(proto::Request request, Done done) {
    return Submit(std::move(request), std::move(done), /*may_hold=*/true);
  }

  // Submit() and wait for the reply. Must not be called from a `done` callback.
  absl::StatusOr<BrokerResponse> Call(proto::Request request);

  // Announces that the calling thread will take the replies due (PollReplies())
  // until its EndPolling(): replies to requests submitted meanwhile, by any thread,
  // are left to it, and the receiver thread is not woken for them. Its requests
  // are held in a batch from now on.
  void BeginPolling();
  // Between BeginPolling() and EndPolling(): sends the held batch, then receives
  // replies and runs their `done` on the calling thread, never blocking, while
  // requests are pending and no other thread receives, until `stop()` returns true
  // (asked after each frame of replies) or `bound` passes without a reply. Returns
  // at once when nothing is pending or polling is paused.
  void PollReplies(absl::Duration bound, absl::FunctionRef<bool()> stop);
  // Ends what BeginPolling() began: sends the held batch; replies still due go to
  // the receiver thread. An EndPolling() without its BeginPolling() (a pass that
  // began on a client since replaced) does nothing.
  void EndPolling();

  // Sends a one-way request (id 0), or holds it as Submit() does; no reply comes.
  // Thread-safe.
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

  enum class Received { kReply, kNothing, kEnded };

  // Submit(), holding the request in the calling thread's batch if `may_hold` and
  // the thread polls.
  absl::StatusOr<uint64_t> Submit(proto::Request request, Done done, bool may_hold);
  // Sends `request` at once, or appends it to `held` (may be null) and sends that
  // when it is due (see the top of this file).
  absl::Status SendOrHold(const proto::Request& request, BatchFrame* held);
  // The calling thread's held batch, or null when it does not poll.
  BatchFrame* HeldByThisThread() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the calling thread's held batch, if any.
  absl::Status SendHeldByThisThread() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends `held`. Its requests are registered as pending, so a batch that cannot
  // be sent ends the channel (they fail with the cause).
  absl::Status SendHeld(BatchFrame& held) ABSL_LOCKS_EXCLUDED(mu_);

  // The receiver thread: receives when nobody else does and replies are due, else
  // sleeps until a request is left to it or the channel ends.
  void ReceiverLoop();
  // Receives one frame (waiting for it when `wait`) and runs the `done` of each
  // request it answers. Only the thread that set receiving_ calls it. kEnded: the
  // channel has ended.
  Received ReceiveOne(bool wait);
  // Runs the `done` of the request `response` answers. An error is a protocol
  // violation.
  absl::Status Deliver(BrokerResponse response);
  // Wakes the receiver thread when replies are due that no thread is there for.
  void WakeReceiverIfNeeded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pending request `id`, removed from the table; done is null if none.
  Pending TakePending(uint64_t id);
  // Fails the request that `reply`, received without its fd, answers with ENFILE
  // and releases what it granted. An error is a protocol violation.
  absl::Status FailRequestThatLostItsFd(const proto::Reply& reply);
  // Marks the channel broken (first reason wins), fails all pending requests and
  // shuts the socket. `by_broker`: logged as an error if it is the first reason.
  void Fail(absl::Status reason, bool by_broker);

  FrameSocket socket_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> up_{true};  // broken_.ok(), readable without mu_
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  // The threads between BeginPolling() and EndPolling(), each with its held
  // batch: the map is guarded, each batch is its thread's alone (node_hash_map:
  // a batch stays put while other threads come and go).
  absl::node_hash_map<std::thread::id, BatchFrame> held_ ABSL_GUARDED_BY(mu_);
  // A thread reads the socket (or is about to); frame_ is that thread's.
  bool receiving_ ABSL_GUARDED_BY(mu_) = false;
  Frame frame_;
  // False after a PollReplies() gave up without a reply (replies come slower than
  // its bound): then the receiver thread waits in recvmsg() and takes every reply,
  // as no thread polls, until it has taken kRepliesBeforeTryingAgain.
  bool polling_pays_ ABSL_GUARDED_BY(mu_) = true;
  int replies_since_giving_up_ ABSL_GUARDED_BY(mu_) = 0;
  // The receiver thread sleeps in poll() on the socket's hang-up and on wake_.
  bool receiver_asleep_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool hung_up_ ABSL_GUARDED_BY(mu_) = false;  // poll() saw the socket's end
  UniqueFd wake_;                              // eventfd
  std::thread receiver_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_BROKER_CLIENT_H_
