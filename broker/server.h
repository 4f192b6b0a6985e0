// Serves the broker channel: `threads` threads each block in Receive() on the
// same SOCK_SEQPACKET socket (each frame goes to one of them), check the request,
// switch to the caller's fsuid/fsgid/umask, run the FileSystem handler and send
// the reply. Lock requests that must wait go to LockWaiters.
//
// The first request must be a Handshake with our protocol version. A frontend
// that sends anything malformed (bad frame, fds, a request before the handshake)
// is treated as compromised: one log line, the channel is shut down, Run()
// returns kInvalidArgument. A frontend that closes the channel ends Run() with OK.

#ifndef VIRTIOFSD_BROKER_SERVER_H_
#define VIRTIOFSD_BROKER_SERVER_H_

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "broker/credentials.h"
#include "broker/filesystem.h"
#include "broker/lock_waiters.h"
#include "common/channel/frame_socket.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class Server {
 public:
  // `socket` and `fs` must outlive the server.
  Server(FrameSocket& socket, FileSystem& fs, int threads);

  // Serves until the channel ends (see above). Call once.
  absl::Status Run();

 private:
  void Serve();
  // Handles one decoded request; false when the frontend broke the protocol.
  bool Dispatch(proto::Request& request, ThreadCredentials& credentials);
  // The rows of common/channel/operations.h that ServedByServer() names, one method
  // each, named like the row; false when the frontend broke the protocol.
  bool Handshake(const proto::Request& request);
  bool Interrupt(const proto::Request& request);
  using OwnHandler = bool (Server::*)(const proto::Request&);
  // The method above for `op`, or nullptr for the rows FileSystem serves.
  static OwnHandler OwnHandlerOf(proto::Request::OpCase op);
  void SendAnswer(uint64_t id, int err, Response& response);
  void Fail(absl::Status status);

  FrameSocket& socket_;
  FileSystem& fs_;
  const int threads_;
  std::atomic<bool> handshake_done_{false};
  absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  LockWaiters waiters_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_SERVER_H_
