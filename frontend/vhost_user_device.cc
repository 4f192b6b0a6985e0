#include "frontend/vhost_user_device.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

using namespace vhost_user;  // NOLINT: the protocol's names read best unqualified here.

template <typename T>
absl::StatusOr<T> PayloadAs(std::string_view payload) {
  if (payload.size() != sizeof(T)) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of ", payload.size(), " bytes, expected ", sizeof(T)));
  }
  T value;
  memcpy(&value, payload.data(), sizeof(T));
  return value;
}

template <typename T>
std::string AsPayload(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

absl::Status ExpectFds(const std::vector<UniqueFd>& fds, size_t count) {
  if (fds.size() != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("message carried ", fds.size(), " fds, expected ", count));
  }
  return absl::OkStatus();
}

uint64_t OfferedProtocolFeatures(const VhostUserDeviceOptions& options) {
  uint64_t features =
      kProtocolMq | kProtocolReplyAck | kProtocolConfigureMemSlots | kProtocolResetDevice;
  if (!options.tag.empty()) features |= kProtocolConfig;
  return features;
}

}  // namespace

uint64_t OfferedVirtioFeatures() {
  return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
         (1ull << VIRTIO_RING_F_EVENT_IDX) | kFeatureProtocolFeatures;
}

VhostUserDevice::VhostUserDevice(UniqueFd connection, VhostUserDeviceOptions options,
                                 ChainHandler& handler)
    : connection_(std::move(connection)),
      options_(std::move(options)),
      handler_(handler),
      memory_(std::make_shared<GuestMemory>()),
      queues_(1 + std::max(1, options_.request_queues)) {}

VhostUserDevice::~VhostUserDevice() {
  for (int i = 0; i < queue_count(); ++i) StopQueue(i);
}

absl::Status VhostUserDevice::Serve() {
  Header header;
  std::string payload;
  std::vector<UniqueFd> fds;
  while (true) {
    absl::Status read = ReadMessage(header, payload, fds);
    if (absl::IsUnavailable(read)) return absl::OkStatus();  // QEMU went away.
    if (!read.ok()) return read;
    const bool need_reply =
        (header.flags & kNeedReplyFlag) && (acked_protocol_features_ & kProtocolReplyAck);
    absl::StatusOr<Reply> reply = Handle(header, payload, std::move(fds));
    fds.clear();
    if (absl::IsFailedPrecondition(reply.status())) {
      VFSD_LOG(kError, "%s", reply.status().message());
      return reply.status();
    }
    if (!reply.ok()) {
      VFSD_LOG(kWarn, "vhost-user request %u failed: %s", header.request, reply.status().message());
    }
    if (reply.ok() && reply->send) {
      VFSD_RETURN_IF_ERROR(SendReply(header, reply->payload));
    } else if (need_reply) {
      const uint64_t result = reply.ok() ? 0 : 1;
      VFSD_RETURN_IF_ERROR(SendReply(header, AsPayload(result)));
    }
  }
}

absl::Status VhostUserDevice::ReadMessage(Header& header, std::string& payload,
                                          std::vector<UniqueFd>& fds) {
  fds.clear();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec iov{&header, sizeof(header)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(connection_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n == 0 || (n < 0 && errno == ECONNRESET)) {
    return absl::UnavailableError("front-end disconnected");
  }
  if (n < 0) return ErrnoError(errno, "recvmsg on the vhost-user socket");
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (n != sizeof(header)) return absl::DataLossError("truncated vhost-user header");
  if (msg.msg_flags & MSG_CTRUNC) {
    fds.clear();
    return absl::DataLossError("vhost-user message with too many fds");
  }
  if ((header.flags & kVersionMask) != kVersion) {
    return absl::DataLossError(absl::StrCat("vhost-user version ", header.flags & kVersionMask));
  }
  if (header.size > kMaxPayload) {
    return absl::DataLossError(absl::StrCat("vhost-user payload of ", header.size, " bytes"));
  }
  payload.resize(header.size);
  size_t got = 0;
  while (got < header.size) {
    ssize_t r = recv(connection_.get(), payload.data() + got, header.size - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return absl::DataLossError("vhost-user payload cut short");
    got += r;
  }
  return absl::OkStatus();
}

absl::Status VhostUserDevice::SendReply(const Header& request, std::string_view payload) {
  Header header{request.request, kVersion | kReplyFlag, static_cast<uint32_t>(payload.size())};
  std::string bytes = AsPayload(header);
  bytes.append(payload);
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(connection_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "send on the vhost-user socket");
    sent += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<VhostUserDevice::QueueState*> VhostUserDevice::QueueFor(uint64_t index) {
  if (index >= queues_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue ", index, " does not exist: the device offers queues 0 (hiprio) to ",
                     queues_.size() - 1, " (--num-request-queues=", queues_.size() - 1,
                     "); requests a guest posts beyond them are never served"));
  }
  return &queues_[index];
}

absl::StatusOr<VhostUserDevice::Reply> VhostUserDevice::Handle(const Header& header,
                                                               std::string_view payload,
                                                               std::vector<UniqueFd> fds) {
  const auto reply_u64 = [](uint64_t value) { return Reply{true, AsPayload(value)}; };
  const size_t fd_count = fds.size();
  // Messages that carry no fd get none: close strays now.
  const bool takes_fds = header.request == kSetMemTable || header.request == kAddMemReg ||
                         header.request == kRemMemReg || header.request == kSetVringKick ||
                         header.request == kSetVringCall || header.request == kSetVringErr ||
                         header.request == kSetBackendReqFd;
  if (!takes_fds && fd_count != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("request ", header.request, " carried ", fd_count, " unexpected fds"));
  }
  switch (header.request) {
    case kGetFeatures:
      return reply_u64(OfferedVirtioFeatures());
    case kSetFeatures: {
      VFSD_ASSIGN_OR_RETURN(uint64_t features, PayloadAs<uint64_t>(payload));
      if (features & ~OfferedVirtioFeatures()) {
        return absl::InvalidArgumentError(
            absl::StrCat("features 0x", absl::Hex(features), " were not offered"));
      }
      acked_features_ = features;
      return Reply{};
    }
    case kGetProtocolFeatures:
      return reply_u64(OfferedProtocolFeatures(options_));
    case kSetProtocolFeatures: {
      VFSD_ASSIGN_OR_RETURN(uint64_t features, PayloadAs<uint64_t>(payload));
      if (features & ~OfferedProtocolFeatures(options_)) {
        return absl::InvalidArgumentError(
            absl::StrCat("protocol features 0x", absl::Hex(features), " were not offered"));
      }
      acked_protocol_features_ = features;
      return Reply{};
    }
    case kSetOwner:
      return Reply{};
    case kResetOwner:
    case kResetDevice:
      Reset();
      return Reply{};
    case kGetQueueNum:
      return reply_u64(queues_.size());
    case kGetMaxMemSlots:
      return reply_u64(GuestMemory::kMaxRegions);
    case kSetMemTable:
      VFSD_RETURN_IF_ERROR(SetMemTable(payload, std::move(fds)));
      return Reply{};
    case kAddMemReg: {
      VFSD_ASSIGN_OR_RETURN(SingleMemoryRegion region, PayloadAs<SingleMemoryRegion>(payload));
      VFSD_RETURN_IF_ERROR(ExpectFds(fds, 1));
      VFSD_RETURN_IF_ERROR(AddRegion(region.region, std::move(fds[0])));
      return Reply{};
    }
    case kRemMemReg: {
      VFSD_ASSIGN_OR_RETURN(SingleMemoryRegion region, PayloadAs<SingleMemoryRegion>(payload));
      const MemoryRegion& r = region.region;
      VFSD_ASSIGN_OR_RETURN(memory_, memory_->Without({r.guest_phys_addr, r.memory_size,
                                                       r.userspace_addr, r.mmap_offset}));
      return Reply{};
    }
    case kSetVringNum: {
      VFSD_ASSIGN_OR_RETURN(VringState state, PayloadAs<VringState>(payload));
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(state.index));
      if (state.num == 0 || state.num > Virtqueue::kMaxSize || (state.num & (state.num - 1))) {
        return absl::InvalidArgumentError(absl::StrCat("queue size ", state.num));
      }
      queue->layout.size = static_cast<uint16_t>(state.num);
      return Reply{};
    }
    case kSetVringAddr: {
      VFSD_ASSIGN_OR_RETURN(VringAddr addr, PayloadAs<VringAddr>(payload));
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(addr.index));
      queue->layout.desc_addr = addr.desc_user_addr;
      queue->layout.avail_addr = addr.avail_user_addr;
      queue->layout.used_addr = addr.used_user_addr;
      queue->addr_set = true;
      return Reply{};
    }
    case kSetVringBase: {
      VFSD_ASSIGN_OR_RETURN(VringState state, PayloadAs<VringState>(payload));
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(state.index));
      if (state.num > 0xffff) return absl::InvalidArgumentError("vring base above 65535");
      queue->next_avail = static_cast<uint16_t>(state.num);
      return Reply{};
    }
    case kGetVringBase: {
      VFSD_ASSIGN_OR_RETURN(VringState state, PayloadAs<VringState>(payload));
      if (state.index >= queues_.size()) {
        // The front-end blocks until this reply comes: QEMU's vhost-user-fs-pci sets up
        // its num-request-queues without checking GET_QUEUE_NUM, and stops them all. A
        // queue beyond ours never ran: its base is 0.
        VFSD_LOG(kWarn, "%s", QueueFor(state.index).status().message());
        return Reply{true, AsPayload(VringState{state.index, 0})};
      }
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(state.index));
      StopQueue(state.index);
      queue->kick.Reset();  // The ring stays stopped until the next SET_VRING_KICK.
      // A stopped ring is disabled; SET_VRING_ENABLE turns it on again.
      queue->enabled = !(acked_features_ & kFeatureProtocolFeatures);
      return Reply{true, AsPayload(VringState{state.index, queue->next_avail})};
    }
    case kSetVringKick:
    case kSetVringCall:
    case kSetVringErr: {
      VFSD_ASSIGN_OR_RETURN(uint64_t value, PayloadAs<uint64_t>(payload));
      if (value & ~(kVringIndexMask | kVringNoFdFlag)) {
        return absl::InvalidArgumentError(absl::StrCat("vring fd word 0x", absl::Hex(value)));
      }
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(value & kVringIndexMask));
      const bool no_fd = value & kVringNoFdFlag;
      VFSD_RETURN_IF_ERROR(ExpectFds(fds, no_fd ? 0 : 1));
      UniqueFd fd = no_fd ? UniqueFd() : std::move(fds[0]);
      const int index = static_cast<int>(value & kVringIndexMask);
      if (header.request == kSetVringKick) {
        if (no_fd) return absl::InvalidArgumentError("polling mode (kick without fd) unsupported");
        StopQueue(index);
        queue->kick = std::move(fd);
        // Without protocol features a ring starts enabled when it gets its kick fd.
        if (!(acked_features_ & kFeatureProtocolFeatures)) queue->enabled = true;
        VFSD_RETURN_IF_ERROR(MaybeStart(index));
      } else if (header.request == kSetVringCall) {
        queue->call = std::move(fd);
        if (queue->runner != nullptr) {
          queue->runner->SetCall(queue->call.valid() ? UniqueFd(dup(queue->call.get()))
                                                     : UniqueFd());
        }
      } else {
        queue->err = std::move(fd);
      }
      return Reply{};
    }
    case kSetVringEnable: {
      VFSD_ASSIGN_OR_RETURN(VringState state, PayloadAs<VringState>(payload));
      VFSD_ASSIGN_OR_RETURN(QueueState * queue, QueueFor(state.index));
      if (state.num > 1) return absl::InvalidArgumentError("vring enable value above 1");
      queue->enabled = state.num == 1;
      if (queue->enabled) {
        VFSD_RETURN_IF_ERROR(MaybeStart(state.index));
      } else {
        StopQueue(static_cast<int>(state.index));
      }
      return Reply{};
    }
    case kSetBackendReqFd:
      // We offer no backend-initiated requests; the fd is not needed.
      return Reply{};
    case kGetConfig: {
      if (options_.tag.empty()) return absl::InvalidArgumentError("no config without --tag");
      if (payload.size() < sizeof(ConfigHeader)) {
        return absl::InvalidArgumentError("GET_CONFIG payload too short");
      }
      ConfigHeader config;
      memcpy(&config, payload.data(), sizeof(config));
      virtio_fs_config fs_config{};
      memcpy(fs_config.tag, options_.tag.data(),
             std::min(options_.tag.size(), sizeof(fs_config.tag)));
      fs_config.num_request_queues = static_cast<uint32_t>(queues_.size() - 1);
      if (config.offset > sizeof(fs_config) || config.size > sizeof(fs_config) - config.offset ||
          payload.size() != sizeof(ConfigHeader) + config.size) {
        return absl::InvalidArgumentError("GET_CONFIG range outside the config space");
      }
      std::string reply = AsPayload(config);
      reply.append(reinterpret_cast<const char*>(&fs_config) + config.offset, config.size);
      return Reply{true, std::move(reply)};
    }
    case kSetConfig:
      return absl::PermissionDeniedError("the virtio-fs config space is read-only");
    default:
      return absl::UnimplementedError(absl::StrCat("vhost-user request ", header.request));
  }
}

absl::Status VhostUserDevice::SetMemTable(std::string_view payload, std::vector<UniqueFd> fds) {
  constexpr size_t kHeader = offsetof(MemoryTable, regions);
  if (payload.size() < kHeader) return absl::InvalidArgumentError("SET_MEM_TABLE too short");
  MemoryTable table{};
  memcpy(&table, payload.data(), std::min(payload.size(), sizeof(table)));
  if (table.nregions == 0 || table.nregions > kMaxMemTableRegions ||
      payload.size() != kHeader + table.nregions * sizeof(MemoryRegion)) {
    return absl::InvalidArgumentError(absl::StrCat("SET_MEM_TABLE with ", table.nregions,
                                                   " regions in ", payload.size(), " bytes"));
  }
  VFSD_RETURN_IF_ERROR(ExpectFds(fds, table.nregions));
  // Build the whole new table before replacing the old one: all or nothing.
  std::shared_ptr<const GuestMemory> memory = std::make_shared<GuestMemory>();
  for (uint32_t i = 0; i < table.nregions; ++i) {
    const MemoryRegion& r = table.regions[i];
    VFSD_ASSIGN_OR_RETURN(
        std::shared_ptr<MappedRegion> mapped,
        MappedRegion::Map({r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset},
                          std::move(fds[i])));
    VFSD_ASSIGN_OR_RETURN(memory, memory->With(std::move(mapped)));
  }
  memory_ = std::move(memory);
  return absl::OkStatus();
}

absl::Status VhostUserDevice::AddRegion(const MemoryRegion& r, UniqueFd fd) {
  VFSD_ASSIGN_OR_RETURN(
      std::shared_ptr<MappedRegion> mapped,
      MappedRegion::Map({r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset},
                        std::move(fd)));
  VFSD_ASSIGN_OR_RETURN(memory_, memory_->With(std::move(mapped)));
  return absl::OkStatus();
}

absl::Status VhostUserDevice::MaybeStart(int index) {
  QueueState& queue = queues_[index];
  if (queue.runner != nullptr || !queue.kick.valid() || !queue.enabled || !queue.addr_set ||
      queue.layout.size == 0) {
    return absl::OkStatus();
  }
  if (memory_->region_count() == 0) {
    // QEMU sends no region it cannot share: the guest would wait forever.
    return absl::FailedPreconditionError(
        "the front-end shared no guest memory, so the rings cannot be reached; start QEMU "
        "with a shared memory backend (-object memory-backend-memfd,id=mem,size=...,share=on "
        "-numa node,memdev=mem)");
  }
  const bool event_idx = acked_features_ & (1ull << VIRTIO_RING_F_EVENT_IDX);
  const bool indirect = acked_features_ & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
  absl::StatusOr<std::unique_ptr<Virtqueue>> virtqueue =
      Virtqueue::Create(queue.layout, queue.next_avail, event_idx, indirect, memory_);
  if (!virtqueue.ok()) {
    VFSD_LOG(kError, "queue %d cannot start: %s", index, virtqueue.status().message());
    return virtqueue.status();
  }
  // The runner needs its own kick fd; keep ours to restart after a stop.
  UniqueFd kick(dup(queue.kick.get()));
  if (!kick.valid()) return ErrnoError(errno, "dup of a kick fd");
  UniqueFd call;
  if (queue.call.valid()) call.Reset(dup(queue.call.get()));
  queue.runner = std::make_unique<QueueRunner>(index, *std::move(virtqueue), std::move(kick),
                                               std::move(call), handler_);
  VFSD_LOG(kDebug, "queue %d started (size %d)", index, queue.layout.size);
  return absl::OkStatus();
}

void VhostUserDevice::StopQueue(int index) {
  QueueState& queue = queues_[index];
  if (queue.runner == nullptr) return;
  queue.next_avail = queue.runner->Stop();
  queue.runner.reset();
}

void VhostUserDevice::Reset() {
  for (int i = 0; i < queue_count(); ++i) StopQueue(i);
  for (QueueState& queue : queues_) queue = QueueState();
  acked_features_ = 0;
  acked_protocol_features_ = 0;
  memory_ = std::make_shared<GuestMemory>();
}

}  // namespace virtiofsd
