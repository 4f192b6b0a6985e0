// Fuzzes what the channel does with a frame from a hostile peer: the bytes and a
// number of fds go through a real socketpair into FrameSocket::Receive() and then
// DecodeRequests() or DecodeReplies(). Input layout: byte 0 = (fd count << 1) |
// direction, the rest = frame bytes. Aborts if any fd outlives the decoding.

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "common/unique_fd.h"

namespace virtiofsd {
namespace {

// The lowest free fd number: it changes if decoding leaks an fd.
int LowestFreeFd() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(fd);
  return fd;
}

void DecodeOne(std::string_view input) {
  if (input.empty()) return;
  const bool as_reply = input[0] & 1;
  const size_t fd_count = (static_cast<uint8_t>(input[0]) >> 1) % (kMaxFdsPerFrame + 1);
  std::string_view bytes = input.substr(1);
  if (bytes.empty()) return;  // The sender refuses empty frames.

  auto pair = FrameSocket::CreatePair();
  if (!pair.ok()) abort();
  std::vector<UniqueFd> to_send;
  std::vector<int> raw;
  for (size_t i = 0; i < fd_count; ++i) {
    to_send.emplace_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw.push_back(to_send.back().get());
  }
  if (!pair->first.Send(bytes, raw).ok()) abort();
  to_send.clear();

  const int free_before = LowestFreeFd();
  {
    Frame frame;
    if (!pair->second.Receive(frame).ok()) abort();
    if (as_reply) {
      absl::StatusOr<std::vector<BrokerResponse>> responses = DecodeReplies(frame);
      if (responses.ok()) {
        if (responses->empty()) abort();
        for (const BrokerResponse& response : *responses) {
          if (response.fd.valid() != (ReplyFdCount(response.reply) == 1)) abort();
        }
      }
    } else {
      absl::StatusOr<proto::RequestBatch> batch = DecodeRequests(frame);
      if (batch.ok()) {
        if (batch->requests().empty()) abort();
        for (const proto::Request& request : batch->requests()) {
          if (request.op_case() == proto::Request::OP_NOT_SET) abort();
        }
      }
    }
  }
  if (LowestFreeFd() != free_before) abort();
}

}  // namespace
}  // namespace virtiofsd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  virtiofsd::DecodeOne(std::string_view(reinterpret_cast<const char*>(data),
                                        std::min(size, virtiofsd::kMaxFrameBytes + 1)));
  return 0;
}
