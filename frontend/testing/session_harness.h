// Test harness for the FUSE session's rooms: FUSE requests built in a memfd that
// stands for guest memory, carried by real descriptor chains to a handler (or a
// whole FuseSession), forwarded through a real BrokerClient to a real broker
// FileSystem serving a temp dir in this process (//broker:test_broker), and the
// reply read back from the chain's writable buffers.

#ifndef VIRTIOFSD_FRONTEND_TESTING_SESSION_HARNESS_H_
#define VIRTIOFSD_FRONTEND_TESTING_SESSION_HARNESS_H_

#include <linux/fuse.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "broker/testing/test_broker.h"
#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"
#include "frontend/guest_memory.h"
#include "frontend/queue_runner.h"

namespace virtiofsd::testing {

// The bytes of a request argument struct.
template <typename T>
std::string Arg(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}
// READ's, READDIR's argument.
inline fuse_read_in ReadIn(uint64_t fh, uint64_t offset, uint32_t size) {
  fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  return in;
}
// A NUL-terminated string argument.
inline std::string Name(std::string_view name) { return std::string(name) + '\0'; }

// What came back through one chain.
struct FuseReply {
  bool completed = false;
  uint32_t written = 0;  // Bytes the device wrote (0: no reply).
  int error = 0;         // -fuse_out_header.error.
  uint64_t unique = 0;
  std::string payload;  // After the header, as long as the header says.

  template <typename T>
  T As() const {
    T out{};
    memcpy(&out, payload.data(), std::min(sizeof(T), payload.size()));
    return out;
  }
};

// One request's layout in guest memory.
struct RequestSpec {
  uint32_t opcode = 0;
  uint64_t nodeid = 1;
  std::string args{};
  size_t reply_room = 4096;  // Writable bytes.
  std::string write_data{};  // WRITE's payload, in a buffer of its own.
  int reply_pieces = 1;      // The writable room split into this many buffers.
  int queue = 1;
  uint64_t unique = 0;  // 0: the next number.
};

class SessionHarness {
 public:
  using Handler = void (*)(FuseContext&, std::unique_ptr<FuseCall>);

  explicit SessionHarness(FuseOptions options = {}, FsConfig config = {},
                          WorkerPool* pool = nullptr);
  ~SessionHarness();

  TempDir& dir() { return dir_; }
  TestBroker& broker() { return *broker_; }
  FuseContext& context() { return *context_; }

  // Sends `spec` to `handler` (a room's function) and waits for its completion.
  FuseReply Call(Handler handler, RequestSpec spec);
  FuseReply Call(Handler handler, uint32_t opcode, uint64_t nodeid, std::string args,
                 size_t reply_room = 4096);
  // Sends `spec` to `handler` without waiting; Wait(ticket) for the reply.
  int Start(Handler handler, RequestSpec spec);
  // Hands `spec`'s chain to a ChainHandler (a FuseSession), without waiting.
  int Send(ChainHandler& session, RequestSpec spec);
  // The reply of Start()/Send() `ticket`; not completed after 10 s (a hang).
  FuseReply Wait(int ticket);
  // Whether `ticket` has completed yet.
  bool Done(int ticket);
  // The chain of `spec` itself, for a test that decodes it; sets `ticket`.
  PendingChain MakeChain(RequestSpec& spec, int& ticket);

  // A file under the share with `data`, looked up and opened through the broker
  // (flags): its node and handle, and the fd recorded in the context's OpenFiles.
  struct OpenedFile {
    uint64_t node = 0;
    uint64_t handle = 0;
  };
  OpenedFile CreateAndOpen(const std::string& name, std::string_view data, int flags);

  // Ends the broker's channel as the broker's death would (pending and later
  // requests fail); the dead broker's state is kept until the harness ends.
  void KillBroker();
  // KillBroker(), then a fresh broker on the same directory whose client the
  // context's BrokerLink takes (Replace()), as when the launcher restarts a broker.
  void RestartBroker();

 private:
  class Completion;
  uint8_t* Allocate(size_t size);

  TempDir dir_;
  const FsConfig config_;
  std::unique_ptr<TestBroker> broker_;
  std::vector<std::unique_ptr<TestBroker>> dead_brokers_;  // outlive context_
  std::unique_ptr<FuseContext> context_;
  std::shared_ptr<MappedRegion> memory_;
  absl::Mutex mu_;
  size_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_unique_ ABSL_GUARDED_BY(mu_) = 100;
  std::deque<std::unique_ptr<Completion>> completions_;
};

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_FRONTEND_TESTING_SESSION_HARNESS_H_
