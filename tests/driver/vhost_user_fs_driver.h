// A test driver that plays QEMU and the guest's virtio-fs driver against any
// vhost-user-fs back-end on a UNIX socket (ours, QEMU's C virtiofsd, the Rust one).
//
// Connect() negotiates exactly like QEMU 7.2 (GET_FEATURES, GET/SET_PROTOCOL_
// FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, SET_BACKEND_REQ_FD, SET_OWNER,
// GET_FEATURES, SET_VRING_CALL/ERR per queue, SET_FEATURES, ADD_MEM_REG per region
// or SET_MEM_TABLE, per queue SET_VRING_NUM/BASE/ADDR/KICK, SET_VRING_ENABLE),
// puts a memfd-backed guest RAM and split virtqueues (queue 0 = hiprio, 1..N =
// request queues) in place, and then posts requests as descriptor chains, kicks
// through the kick eventfd and collects used entries after the call eventfd fires.
//
// Requests are opaque bytes here (FuseClient puts FUSE on top). Many may be in
// flight on every queue; each Post() returns a ticket that Wait() redeems. Every
// wait is bounded by DriverOptions::timeout (kDeadlineExceeded), and a back-end
// that hangs up fails waits at once (kUnavailable): a test never hangs.
//
// For hostile-input tests: Post() carries any bytes (a truncated fuse_in_header,
// a write-only chain), PostRaw() posts arbitrary descriptors, channel() sends
// arbitrary vhost-user messages with arbitrary fds, memory() gives the guest RAM.
// To break the negotiation itself, use VhostUserChannel::Connect() directly.
//
//   ASSERT_OK_AND_ASSIGN(auto daemon, Daemon::Start({...}));       // daemon.h
//   ASSERT_OK_AND_ASSIGN(auto driver, VhostUserFsDriver::Connect(socket_path));
//   FuseClient fuse(driver.get());                                  // fuse_client.h
//   ASSERT_OK(fuse.Init().status());
//   ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse.Lookup(FUSE_ROOT_ID, "file"));
//
// Owns the socket, the guest memory, the rings and all eventfds; destroying the
// driver closes the connection (most back-ends then exit). Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_VHOST_USER_FS_DRIVER_H_
#define VIRTIOFSD_TESTS_DRIVER_VHOST_USER_FS_DRIVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/unique_fd.h"
#include "tests/driver/guest_memory.h"
#include "tests/driver/split_ring.h"
#include "tests/driver/vhost_user_channel.h"
#include "tests/driver/vhost_user_messages.h"

namespace virtiofsd::driver {

enum class MemTableMessage {
  kLikeQemu,     // ADD_MEM_REG per region if the back-end offers CONFIGURE_MEM_SLOTS,
                 // else SET_MEM_TABLE
  kSetMemTable,  // never negotiate CONFIGURE_MEM_SLOTS: always SET_MEM_TABLE
};

struct DriverOptions {
  uint64_t memory_bytes = 128ull << 20;
  RegionLayout region_layout = RegionLayout::kTwoLikeQemu;
  MemTableMessage mem_table = MemTableMessage::kLikeQemu;
  uint16_t queue_size = 1024;  // per queue, a power of two
  int request_queues = 1;      // queues 1..request_queues; queue 0 is hiprio
  // Virtio features to accept when offered (VERSION_1 always is).
  bool event_idx = true;
  bool indirect_desc = true;
  // Protocol features to accept when offered; QEMU 7.2's vhost-user-fs set.
  uint64_t protocol_features = (1ull << kProtocolMq) | (1ull << kProtocolLogShmfd) |
                               (1ull << kProtocolReplyAck) | (1ull << kProtocolBackendReq) |
                               (1ull << kProtocolBackendSendFd) | (1ull << kProtocolHostNotifier) |
                               (1ull << kProtocolConfigureMemSlots);
  // With REPLY_ACK: set NEED_REPLY on every message that has no reply of its own
  // (QEMU sets it only on SET_BACKEND_REQ_FD and the memory table messages).
  bool ack_every_message = false;
  // Bounds connecting, every vhost-user reply and every Wait().
  absl::Duration timeout = absl::Seconds(10);
};

// What Connect() learned and agreed.
struct Negotiated {
  uint64_t offered_features = 0;
  uint64_t features = 0;  // sent in SET_FEATURES
  uint64_t offered_protocol_features = 0;
  uint64_t protocol_features = 0;  // sent in SET_PROTOCOL_FEATURES
  uint64_t queue_num = 0;          // GET_QUEUE_NUM (0 without MQ)
  uint64_t max_mem_slots = 0;      // GET_MAX_MEM_SLOTS (0 without CONFIGURE_MEM_SLOTS)
  bool add_mem_reg = false;        // memory went as ADD_MEM_REG, not SET_MEM_TABLE
};

// A request in the shape the guest posts it: device-readable buffers, then
// device-writable buffers. Each buffer is one descriptor (or several, see
// PostOptions::max_segment), all placed in guest memory by Post().
struct DeviceRequest {
  std::vector<std::string> readable;  // contents
  std::vector<uint32_t> writable;     // sizes
};

struct PostOptions {
  // One VRING_DESC_F_INDIRECT descriptor pointing at a table, as Linux does for
  // every multi-buffer request when INDIRECT_DESC is negotiated (posted as asked,
  // negotiated or not).
  bool indirect = false;
  // Split buffers into descriptors of at most this many bytes (4096 mimics a guest
  // passing page-sized pieces); 0 keeps one descriptor per buffer.
  uint32_t max_segment = 0;
};

struct DeviceCompletion {
  uint32_t used_len = 0;  // what the device put in the used element
  // The first min(used_len, writable capacity) bytes of the writable buffers,
  // concatenated (empty for PostRaw() chains).
  std::string written;
};

class VhostUserFsDriver {
 public:
  // Connects to `socket_path` and negotiates; the queues are live on return.
  static absl::StatusOr<std::unique_ptr<VhostUserFsDriver>> Connect(
      const std::string& socket_path, const DriverOptions& options = {});
  ~VhostUserFsDriver();

  VhostUserFsDriver(const VhostUserFsDriver&) = delete;
  VhostUserFsDriver& operator=(const VhostUserFsDriver&) = delete;

  const Negotiated& negotiated() const { return negotiated_; }
  const DriverOptions& options() const { return options_; }
  int num_queues() const { return static_cast<int>(queues_.size()); }
  bool HasFeature(int bit) const { return (negotiated_.features >> bit) & 1; }
  bool HasProtocolFeature(int bit) const { return (negotiated_.protocol_features >> bit) & 1; }

  // Places `request` in guest memory, adds it to `queue`'s avail ring and kicks if
  // the device asks for it. Returns the ticket for Wait(). kResourceExhausted when
  // the ring or guest memory is full (Wait for something first).
  absl::StatusOr<uint64_t> Post(int queue, const DeviceRequest& request,
                                const PostOptions& options = {});

  // Posts `descriptors` verbatim (see SplitRing::AddRaw); addresses are the
  // caller's (allocate from memory().allocator() or pick bad ones on purpose).
  absl::StatusOr<uint64_t> PostRaw(int queue, absl::Span<const RawDescriptor> descriptors);

  // Waits until the device has used the chain of `ticket`. kNotFound for a ticket
  // that is neither in flight nor completed; kDataLoss when the device broke the
  // ring; kDeadlineExceeded / kUnavailable as above.
  absl::StatusOr<DeviceCompletion> Wait(uint64_t ticket);

  // Waits for any in-flight chain; returns its ticket and completion.
  // kFailedPrecondition when nothing is in flight.
  absl::StatusOr<std::pair<uint64_t, DeviceCompletion>> WaitAny();

  // Chains posted and not yet returned by Wait()/WaitAny().
  int in_flight() const { return static_cast<int>(tickets_.size()); }

  // Sends GET_VRING_BASE for every queue, as QEMU does when the guest stops; the
  // back-end stops processing them. Returns each queue's next avail index.
  absl::StatusOr<std::vector<uint16_t>> StopQueues();

  // Whether the back-end signalled `queue`'s error eventfd (SET_VRING_ERR) since
  // the last call.
  bool ErrorSignaled(int queue);

  // Sends a message that has no reply of its own; with REPLY_ACK negotiated and
  // `need_reply` (or ack_every_message) sets NEED_REPLY and checks the ack
  // (kFailedPrecondition with the back-end's nonzero status).
  absl::Status SendAcked(uint32_t request, absl::string_view payload,
                         absl::Span<const int> fds = {}, bool need_reply = false);

  // For hostile-input tests.
  VhostUserChannel& channel() { return channel_; }
  GuestMemory& memory() { return *memory_; }
  SplitRing& ring(int queue) { return *queues_[queue].ring; }

 private:
  struct Queue {
    std::unique_ptr<SplitRing> ring;
    UniqueFd kick, call, err;
    // head -> ticket of the chain in flight there
    std::map<uint16_t, uint64_t> heads;
  };
  struct Ticket {
    int queue;
    uint64_t block;  // guest memory to free on completion; 0 for raw chains
    std::vector<Segment> writable;
  };

  VhostUserFsDriver(VhostUserChannel channel, const DriverOptions& options,
                    std::unique_ptr<GuestMemory> memory);
  absl::Status Negotiate();
  absl::Status SendMemoryTable();
  absl::Status StartQueue(int index);
  absl::StatusOr<uint64_t> GetU64(uint32_t request);
  absl::StatusOr<uint64_t> AddInFlight(int queue, uint16_t head, Ticket ticket);
  absl::Status Kick(int queue);
  absl::Status Harvest();
  absl::Status Sleep(absl::Time deadline);

  VhostUserChannel channel_;
  DriverOptions options_;
  Negotiated negotiated_;
  std::unique_ptr<GuestMemory> memory_;
  std::vector<Queue> queues_;  // destroyed before memory_
  UniqueFd backend_req_;       // our end of the SET_BACKEND_REQ_FD channel
  uint64_t next_ticket_ = 1;
  std::map<uint64_t, Ticket> tickets_;
  std::map<uint64_t, DeviceCompletion> completed_;
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_VHOST_USER_FS_DRIVER_H_
