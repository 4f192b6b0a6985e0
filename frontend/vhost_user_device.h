// The vhost-user backend of a virtio-fs device: serves one front-end (QEMU)
// connection, keeps the negotiated features, the guest memory table and the
// per-queue state, and starts a QueueRunner for each queue once it is fully set up.
//
// Every message is checked (payload size, fd count, queue index, ring layout); a bad
// message is answered with a failure where the protocol has a way to say so and
// logged once, and service goes on. Serve() ends on a broken stream (unreadable
// header, peer gone) and when the front-end shared no guest memory at all (QEMU
// without share=on): then nothing the guest sends could ever be answered.

#ifndef VIRTIOFSD_FRONTEND_VHOST_USER_DEVICE_H_
#define VIRTIOFSD_FRONTEND_VHOST_USER_DEVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "frontend/guest_memory.h"
#include "frontend/queue_runner.h"
#include "frontend/vhost_user_protocol.h"

namespace virtiofsd {

struct VhostUserDeviceOptions {
  // Request queues offered (queue 0 is the hiprio queue on top of these).
  int request_queues = 1;
  // --tag: exposed through GET_CONFIG when set.
  std::string tag;
};

class VhostUserDevice {
 public:
  // Serves `connection` (an accepted vhost-user socket); `handler` gets every chain
  // of every queue and must outlive the device.
  VhostUserDevice(UniqueFd connection, VhostUserDeviceOptions options, ChainHandler& handler);
  ~VhostUserDevice();

  // Serves messages until the front-end disconnects (OK) or the stream breaks.
  absl::Status Serve();

  // Handles one message; exposed for tests and fuzzing. `fds` are owned.
  // Returns the reply payload to send (if the request has one).
  struct Reply {
    bool send = false;
    std::string payload;
  };
  absl::StatusOr<Reply> Handle(const vhost_user::Header& header, std::string_view payload,
                               std::vector<UniqueFd> fds);

  uint64_t acked_features() const { return acked_features_; }
  int queue_count() const { return static_cast<int>(queues_.size()); }
  bool queue_running(int index) const { return queues_[index].runner != nullptr; }

 private:
  struct QueueState {
    VirtqueueLayout layout;
    bool addr_set = false;
    uint16_t next_avail = 0;
    bool enabled = false;
    UniqueFd kick;
    UniqueFd call;
    UniqueFd err;
    std::unique_ptr<QueueRunner> runner;
  };

  absl::Status ReadMessage(vhost_user::Header& header, std::string& payload,
                           std::vector<UniqueFd>& fds);
  absl::Status SendReply(const vhost_user::Header& request, std::string_view payload);

  // Starts queue `index` if it has everything it needs and is not running.
  absl::Status MaybeStart(int index);
  void StopQueue(int index);
  void Reset();
  absl::StatusOr<QueueState*> QueueFor(uint64_t index);
  absl::Status SetMemTable(std::string_view payload, std::vector<UniqueFd> fds);
  absl::Status AddRegion(const vhost_user::MemoryRegion& region, UniqueFd fd);

  UniqueFd connection_;
  const VhostUserDeviceOptions options_;
  ChainHandler& handler_;
  uint64_t acked_features_ = 0;
  uint64_t acked_protocol_features_ = 0;
  std::shared_ptr<const GuestMemory> memory_;
  std::vector<QueueState> queues_;
};

// The virtio feature bits this backend offers.
uint64_t OfferedVirtioFeatures();

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_VHOST_USER_DEVICE_H_
