// Fuzzes vhost-user message handling: the input is a sequence of messages
// (12-byte header, then `size` payload bytes, capped), each handed to
// VhostUserDevice::Handle() with as many fresh eventfds as the top bits of its
// flags ask for. No message may crash the device or leak an fd.

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "frontend/vhost_user_device.h"

namespace virtiofsd {
namespace {

class DropChains : public ChainHandler {
 public:
  void HandleChain(PendingChain chain) override { chain.Complete(0); }
};

int LowestFreeFd() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(fd);
  return fd;
}

void Fuzz(const uint8_t* data, size_t size) {
  const int free_before = LowestFreeFd();
  {
    DropChains handler;
    VhostUserDevice device(UniqueFd(), {2, "fuzz"}, handler);
    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (input.size() >= sizeof(vhost_user::Header)) {
      vhost_user::Header header;
      memcpy(&header, input.data(), sizeof(header));
      input.remove_prefix(sizeof(header));
      const size_t payload_size = std::min<size_t>(header.size % 512, input.size());
      std::string_view payload = input.substr(0, payload_size);
      input.remove_prefix(payload_size);
      std::vector<UniqueFd> fds;
      for (uint32_t i = 0; i < (header.flags >> 29); ++i) {
        fds.emplace_back(eventfd(0, EFD_CLOEXEC));
      }
      (void)device.Handle(header, payload, std::move(fds));
    }
  }
  if (LowestFreeFd() != free_before) abort();
}

}  // namespace
}  // namespace virtiofsd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  virtiofsd::InitLogging("vhost_user_fuzzer", virtiofsd::LogLevel::kOff);
  virtiofsd::Fuzz(data, size);
  return 0;
}
