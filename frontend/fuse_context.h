// What the rooms of the FUSE session share: the broker channel, the options, the
// session's state (open files, lock waits, what INIT negotiated), and forwarding a
// FUSE request to the broker with its reply encoded back.
//
// Forward() is the only path to the broker for a call: it checks that the call's
// opcode lists the broker operation in frontend/fuse_opcodes.h (a request the
// table does not list answers EIO; Call() checks the same), turns an error reply into the call's
// errno and a broken channel into EIO, and runs the encoder only for a success.
//
// Thread-safe: handlers run on queue and worker threads, reply encoders on the
// thread that receives the broker's reply: mostly the queue thread that forwarded
// it (PollReplies()), else the broker client's receiver thread or a thread in Call().

#ifndef VIRTIOFSD_FRONTEND_FUSE_CONTEXT_H_
#define VIRTIOFSD_FRONTEND_FUSE_CONTEXT_H_

#include <linux/fuse.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "common/channel/broker_client.h"
#include "frontend/broker_link.h"
#include "frontend/fuse_call.h"
#include "frontend/fuse_options.h"
#include "frontend/lock_waits.h"
#include "frontend/open_files.h"
#include "frontend/worker_pool.h"

namespace virtiofsd {

// The largest READ/WRITE we negotiate (max_write, and max_pages of 4 KiB).
inline constexpr uint32_t kMaxIoBytes = 1 << 20;
// How long a queue thread waits, without sleeping, for a broker reply that is due
// before it leaves the reply to the broker client's receiver thread: about one
// round trip to the broker when the broker has to be woken.
inline constexpr absl::Duration kReplyPollBound = absl::Microseconds(80);

class FuseContext {
 public:
  using OnReply = absl::AnyInvocable<void(FuseCall&, BrokerResponse&)>;

  // `broker` and `pool` (if not null) must outlive the context.
  FuseContext(BrokerLink& broker, FuseOptions options, WorkerPool* pool);
  // Through a link of its own to `broker` alone (no broker ever replaces it).
  FuseContext(BrokerClient& broker, FuseOptions options, WorkerPool* pool);

  // A request carrying the caller of `call` (and `umask`, for creations).
  static proto::Request NewRequest(const FuseCall& call, uint32_t umask = 0);

  // Sends `request` for `call`; `on_reply` encodes a successful reply. Returns
  // the broker request id, or nullopt when it was not sent (the call then
  // answers EIO).
  std::optional<uint64_t> Forward(std::unique_ptr<FuseCall> call, proto::Request request,
                                  OnReply on_reply);
  // Forward() for replies that are only an errno, an entry, or attributes.
  void ForwardEmpty(std::unique_ptr<FuseCall> call, proto::Request request);
  void ForwardEntry(std::unique_ptr<FuseCall> call, proto::Request request);
  void ForwardAttr(std::unique_ptr<FuseCall> call, proto::Request request);
  // Call() for `call`: sends `request` and waits for the reply. Returns the
  // reply's errno, or EIO when the channel failed or the table does not list it.
  int Call(const FuseCall& call, proto::Request request);
  // A one-way request (FORGET, INTERRUPT); ignored when the channel is gone.
  void SendOneWay(proto::Request request);
  // For a queue thread: replies due to requests forwarded between BeginPolling()
  // and EndPolling() are left to it, and PollReplies() takes them (without
  // blocking, until `stop()` or kReplyPollBound without a reply). See
  // BrokerClient::BeginPolling().
  void BeginPolling() { broker_.BeginPolling(); }
  void PollReplies(absl::FunctionRef<bool()> stop) { broker_.PollReplies(kReplyPollBound, stop); }
  void EndPolling() { broker_.EndPolling(); }
  // Sends the broker an InterruptRequest for each of `broker_ids`.
  void InterruptAtBroker(const std::vector<uint64_t>& broker_ids);

  // fuse_open_out for a file the broker opened, with the --cache policy's flags.
  fuse_open_out OpenOut(uint64_t handle, uint32_t broker_flags) const;

  // False once the broker channel has ended: every request then fails with EIO.
  bool broker_up() const { return broker_.up(); }
  BrokerLink& broker_link() { return broker_; }
  WorkerPool* pool() const { return pool_; }
  const FuseOptions& options() const { return options_; }
  // Seconds the guest may cache entries and attributes.
  uint64_t timeout() const { return timeout_; }
  OpenFiles& open_files() { return open_files_; }
  LockWaits& lock_waits() { return lock_waits_; }

  // What INIT negotiated.
  std::atomic<bool> initialized{false};
  std::atomic<bool> setxattr_ext{false};
  std::atomic<bool> guest_strips_setgid{false};  // proto CreateRequest.guest_strips_setgid

 private:
  std::unique_ptr<BrokerLink> own_link_;  // for the BrokerClient& constructor
  BrokerLink& broker_;
  WorkerPool* const pool_;
  const FuseOptions options_;
  const uint64_t timeout_;
  OpenFiles open_files_;
  LockWaits lock_waits_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_CONTEXT_H_
