// Serves the broker channel: `threads` threads each block in Receive() on the
// same SOCK_SEQPACKET socket (each frame, a batch of requests, goes to one of
// them). The thread checks the whole batch first, then serves its requests in
// order: switches to the caller's fsuid/fsgid/umask, runs the FileSystem handler
// and collects the reply, sending the replies in frames of up to
// kRepliesPerFrame (so the frontend finishes the first requests of a long batch
// while the broker works on the rest) and the remainder when the batch is done. Lock requests that
// must wait go to LockWaiters. A thread that has just answered first looks for the next request
// without sleeping, for a few tens of microseconds and one thread at a time, so a steady stream of
// requests does not pay a wake-up each; an idle server sleeps. When that finds nothing (requests
// come slower, or the machine is busy), polling pauses for a few hundred requests.
//
// The first request must be a Handshake with our protocol version. A frontend
// that sends anything malformed (bad frame, fds, a request before the handshake)
// is treated as compromised: one log line, the channel is shut down, Run()
// returns kInvalidArgument. A frontend that closes the channel ends Run() with OK.

#ifndef VIRTIOFSD_BROKER_SERVER_H_
#define VIRTIOFSD_BROKER_SERVER_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "broker/credentials.h"
#include "broker/filesystem.h"
#include "broker/lock_waiters.h"
#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class Server {
 public:
  // Replies of one batch sent together while the rest of the batch is served.
  static constexpr size_t kRepliesPerFrame = 8;

  // `socket` and `fs` must outlive the server.
  Server(FrameSocket& socket, FileSystem& fs, int threads);

  // Serves until the channel ends (see above). Call once.
  absl::Status Run();

 private:
  // The replies one thread owes for the batch it serves, and the handles that
  // keep their fds open until they are sent.
  struct Outbox {
    BatchFrame frame;
    std::vector<std::shared_ptr<OpenHandle>> handles;
  };

  void Serve();
  // Receive() after polling for a frame without blocking (if no other thread
  // polls and polling is not paused) for kPollBound.
  absl::Status PollThenReceive(Frame& frame);
  // Handles one decoded request; false when the frontend broke the protocol.
  bool Dispatch(proto::Request& request, ThreadCredentials& credentials, Outbox& outbox);
  // The rows of common/channel/operations.h that ServedByServer() names, one method
  // each, named like the row; false when the frontend broke the protocol.
  bool Handshake(const proto::Request& request, Outbox& outbox);
  bool Interrupt(const proto::Request& request, Outbox& outbox);
  using OwnHandler = bool (Server::*)(const proto::Request&, Outbox&);
  // The method above for `op`, or nullptr for the rows FileSystem serves.
  static OwnHandler OwnHandlerOf(proto::Request::OpCase op);
  // Adds the answer to `id` to the outbox, sending the outbox first when full.
  void Answer(uint64_t id, int err, Response& response, Outbox& outbox);
  void Send(Outbox& outbox);
  void Fail(absl::Status status);

  FrameSocket& socket_;
  FileSystem& fs_;
  const int threads_;
  std::atomic<bool> handshake_done_{false};
  std::atomic<bool> polling_{false};             // a thread is in PollThenReceive()'s loop
  std::atomic<int> requests_before_polling_{0};  // polling paused meanwhile
  absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  LockWaiters waiters_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_SERVER_H_
