// The front-end's end of a vhost-user UNIX socket: sends messages (header,
// payload, fds by SCM_RIGHTS) and receives the back-end's replies, each with a
// timeout so a silent or dead back-end fails a test instead of hanging it.
// Nothing here checks the protocol's order: Send() sends any request code, flags,
// payload and fds, which is what bad-message tests need.
//
// Owns the socket. Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_VHOST_USER_CHANNEL_H_
#define VIRTIOFSD_TESTS_DRIVER_VHOST_USER_CHANNEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/unique_fd.h"
#include "tests/driver/vhost_user_messages.h"

namespace virtiofsd::driver {

// One received message; the fds that came with it are owned here.
struct VhostUserMessage {
  VhostUserHeader header;
  std::string payload;
  std::vector<UniqueFd> fds;
};

class VhostUserChannel {
 public:
  // Connects to the back-end at `socket_path`, retrying until `timeout` while the
  // socket does not exist or refuses connections.
  static absl::StatusOr<VhostUserChannel> Connect(const std::string& socket_path,
                                                  absl::Duration timeout);
  // Takes a connected SOCK_STREAM socket. `timeout` bounds each Receive().
  VhostUserChannel(UniqueFd socket, absl::Duration timeout);

  // Sends one message: header {request, flags, payload.size()}, the payload and
  // `fds` (borrowed; duplicated into the peer by the kernel).
  absl::Status Send(uint32_t request, uint32_t flags, absl::string_view payload,
                    absl::Span<const int> fds = {});

  // Sends arbitrary bytes (a truncated header, two messages in one write...).
  absl::Status SendRaw(absl::string_view bytes, absl::Span<const int> fds = {});

  // Receives one whole message. kDeadlineExceeded after the timeout,
  // kUnavailable when the back-end closed the socket, kDataLoss for a payload
  // larger than 64 KiB.
  absl::StatusOr<VhostUserMessage> Receive();

  // Send() then Receive(); the reply must carry kVhostUserReplyFlag and the same
  // request code, else kDataLoss.
  absl::StatusOr<VhostUserMessage> Call(uint32_t request, uint32_t flags, absl::string_view payload,
                                        absl::Span<const int> fds = {});

  // The socket (borrowed), e.g. to poll it for a hang-up.
  int fd() const { return socket_.get(); }

 private:
  absl::Status ReceiveExactly(char* data, size_t size, std::vector<UniqueFd>* fds);

  UniqueFd socket_;
  absl::Duration timeout_;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_VHOST_USER_CHANNEL_H_
