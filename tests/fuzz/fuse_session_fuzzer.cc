// Fuzzes FUSE request decoding: each input is one request's device-readable bytes
// (header and arguments), handed to FuseSession as a descriptor chain split into
// up to three buffers, with a 4 KiB reply buffer. The session has been through
// INIT; its broker channel is closed, so decoded requests are answered EIO. Every
// chain must be completed exactly once, with a reply that fits its buffer.

#include <linux/fuse.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common/channel/broker_client.h"
#include "common/logging.h"
#include "frontend/fuse_session.h"

namespace virtiofsd {
namespace {

class RecordingCompleter : public ChainCompleter {
 public:
  void Complete(uint16_t head, uint32_t written) override {
    ++completions;
    last_written = written;
  }
  int index() const override { return 1; }
  int completions = 0;
  uint32_t last_written = 0;
};

struct Harness {
  Harness() {
    InitLogging("fuse_session_fuzzer", LogLevel::kOff);
    auto pair = FrameSocket::CreatePair();
    if (!pair.ok()) abort();
    client = std::make_unique<BrokerClient>(std::move(pair->first));
    // The broker end closes at once: forwarded requests fail with EIO.
    session = std::make_unique<FuseSession>(*client, FuseOptions{});
    fuse_in_header header{};
    fuse_init_in init{};
    header.len = sizeof(header) + sizeof(init);
    header.opcode = FUSE_INIT;
    header.unique = 2;
    init.major = FUSE_KERNEL_VERSION;
    init.minor = FUSE_KERNEL_MINOR_VERSION;
    std::string bytes(reinterpret_cast<char*>(&header), sizeof(header));
    bytes.append(reinterpret_cast<char*>(&init), sizeof(init));
    Run(bytes, 0, 0);
    if (!session->initialized()) abort();
  }

  void Run(const std::string& request, size_t split1, size_t split2) {
    std::string input = request;
    split1 = std::min(split1, input.size());
    split2 = std::min(std::max(split1, split2), input.size());
    DescriptorChain chain;
    chain.head = 0;
    for (auto [from, to] :
         {std::pair{size_t{0}, split1}, {split1, split2}, {split2, input.size()}}) {
      if (to > from) chain.readable.push_back({input.data() + from, to - from});
    }
    chain.readable_bytes = input.size();
    std::string reply(4096, '\0');
    chain.writable.push_back({reply.data(), reply.size()});
    chain.writable_bytes = reply.size();
    RecordingCompleter completer;
    session->HandleChain(PendingChain(&completer, std::move(chain)));
    // Forwarded requests complete on the client's thread once the send fails,
    // which happens inside HandleChain(): by now every chain is back.
    if (completer.completions != 1) abort();
    if (completer.last_written > reply.size()) abort();
    if (completer.last_written != 0) {
      fuse_out_header out;
      memcpy(&out, reply.data(), sizeof(out));
      if (out.len != completer.last_written || out.error > 0 || out.error < -4095) abort();
    }
  }

  std::unique_ptr<BrokerClient> client;
  std::unique_ptr<FuseSession> session;
};

}  // namespace
}  // namespace virtiofsd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static virtiofsd::Harness* harness = new virtiofsd::Harness();
  if (size < 2) return 0;
  std::string request(reinterpret_cast<const char*>(data) + 2, size - 2);
  // Make the header's length agree with the chain most of the time, so decoding
  // goes past the length check.
  if (request.size() >= sizeof(fuse_in_header) && (data[0] & 1)) {
    uint32_t len = static_cast<uint32_t>(request.size());
    memcpy(request.data(), &len, sizeof(len));
  }
  harness->Run(request, data[0] >> 1, data[1]);
  return 0;
}
