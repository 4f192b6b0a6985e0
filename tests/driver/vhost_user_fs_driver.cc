#include "tests/driver/vhost_user_fs_driver.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace virtiofsd::driver {
namespace {

template <typename T>
absl::string_view AsBytes(const T& value) {
  return absl::string_view(reinterpret_cast<const char*>(&value), sizeof(value));
}

std::string VringState(uint32_t index, uint32_t num) {
  vhost_vring_state state{index, num};
  return std::string(AsBytes(state));
}

std::string U64(uint64_t value) { return std::string(AsBytes(value)); }

absl::StatusOr<UniqueFd> MakeEventFd() {
  // QEMU's event notifiers are non-blocking too.
  UniqueFd fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return ErrnoError(errno, "eventfd");
  return fd;
}

// Reads and discards an eventfd's count; true if it was signalled.
bool Drain(int fd) {
  uint64_t count;
  return read(fd, &count, sizeof(count)) == sizeof(count);
}

uint64_t AlignUp(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }

}  // namespace

absl::StatusOr<std::unique_ptr<VhostUserFsDriver>> VhostUserFsDriver::Connect(
    const std::string& socket_path, const DriverOptions& options) {
  if (options.request_queues < 1) return absl::InvalidArgumentError("need a request queue");
  VFSD_ASSIGN_OR_RETURN(VhostUserChannel channel,
                        VhostUserChannel::Connect(socket_path, options.timeout));
  VFSD_ASSIGN_OR_RETURN(std::unique_ptr<GuestMemory> memory,
                        GuestMemory::Create(options.memory_bytes, options.region_layout));
  std::unique_ptr<VhostUserFsDriver> driver(
      new VhostUserFsDriver(std::move(channel), options, std::move(memory)));
  VFSD_RETURN_IF_ERROR(driver->Negotiate());
  return driver;
}

VhostUserFsDriver::VhostUserFsDriver(VhostUserChannel channel, const DriverOptions& options,
                                     std::unique_ptr<GuestMemory> memory)
    : channel_(std::move(channel)), options_(options), memory_(std::move(memory)) {}

VhostUserFsDriver::~VhostUserFsDriver() = default;

absl::StatusOr<uint64_t> VhostUserFsDriver::GetU64(uint32_t request) {
  VFSD_ASSIGN_OR_RETURN(VhostUserMessage reply, channel_.Call(request, kVhostUserVersion, ""));
  if (reply.payload.size() != sizeof(uint64_t)) {
    return absl::DataLossError(
        absl::StrFormat("reply to %d has %d payload bytes", request, reply.payload.size()));
  }
  uint64_t value;
  memcpy(&value, reply.payload.data(), sizeof(value));
  return value;
}

absl::Status VhostUserFsDriver::SendAcked(uint32_t request, absl::string_view payload,
                                          absl::Span<const int> fds, bool need_reply) {
  if (!HasProtocolFeature(kProtocolReplyAck) || !(need_reply || options_.ack_every_message)) {
    return channel_.Send(request, kVhostUserVersion, payload, fds);
  }
  VFSD_ASSIGN_OR_RETURN(
      VhostUserMessage reply,
      channel_.Call(request, kVhostUserVersion | kVhostUserNeedReplyFlag, payload, fds));
  uint64_t status = ~0ull;
  if (reply.payload.size() == sizeof(status)) memcpy(&status, reply.payload.data(), sizeof(status));
  if (status != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("back-end refused request %d (ack %d)", request, status));
  }
  return absl::OkStatus();
}

// The order of QEMU 7.2: vhost_user_backend_init, vhost_dev_init (call/err
// notifiers), then vhost_dev_start (features, memory, rings, enable).
absl::Status VhostUserFsDriver::Negotiate() {
  VFSD_ASSIGN_OR_RETURN(negotiated_.offered_features, GetU64(kGetFeatures));
  const uint64_t offered = negotiated_.offered_features;
  const bool protocol = (offered >> kVhostUserFProtocolFeatures) & 1;
  if (protocol) {
    VFSD_ASSIGN_OR_RETURN(negotiated_.offered_protocol_features, GetU64(kGetProtocolFeatures));
    uint64_t wanted = options_.protocol_features;
    if (options_.mem_table == MemTableMessage::kSetMemTable) {
      wanted &= ~(1ull << kProtocolConfigureMemSlots);
    }
    negotiated_.protocol_features = negotiated_.offered_protocol_features & wanted;
    VFSD_RETURN_IF_ERROR(
        channel_.Send(kSetProtocolFeatures, kVhostUserVersion, U64(negotiated_.protocol_features)));
  }
  const int total_queues = 1 + options_.request_queues;
  if (HasProtocolFeature(kProtocolMq)) {
    VFSD_ASSIGN_OR_RETURN(negotiated_.queue_num, GetU64(kGetQueueNum));
    if (negotiated_.queue_num < static_cast<uint64_t>(total_queues)) {
      return absl::FailedPreconditionError(absl::StrFormat("back-end has %d queues, %d wanted",
                                                           negotiated_.queue_num, total_queues));
    }
  }
  if (HasProtocolFeature(kProtocolConfigureMemSlots)) {
    VFSD_ASSIGN_OR_RETURN(negotiated_.max_mem_slots, GetU64(kGetMaxMemSlots));
    if (negotiated_.max_mem_slots < memory_->regions().size()) {
      return absl::FailedPreconditionError("back-end has too few memory slots");
    }
  }
  if (HasProtocolFeature(kProtocolBackendReq)) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return ErrnoError(errno, "socketpair");
    }
    backend_req_.Reset(pair[0]);
    UniqueFd theirs(pair[1]);
    const int fds[] = {theirs.get()};
    VFSD_RETURN_IF_ERROR(SendAcked(kSetBackendReqFd, "", fds, /*need_reply=*/true));
  }
  VFSD_RETURN_IF_ERROR(SendAcked(kSetOwner, ""));
  VFSD_ASSIGN_OR_RETURN(uint64_t again, GetU64(kGetFeatures));
  if (again != offered) {
    return absl::DataLossError(
        absl::StrFormat("features changed: 0x%x, then 0x%x", offered, again));
  }

  queues_.resize(total_queues);
  for (int i = 0; i < total_queues; ++i) {
    Queue& queue = queues_[i];
    VFSD_ASSIGN_OR_RETURN(queue.kick, MakeEventFd());
    VFSD_ASSIGN_OR_RETURN(queue.call, MakeEventFd());
    VFSD_ASSIGN_OR_RETURN(queue.err, MakeEventFd());
    const int call[] = {queue.call.get()};
    VFSD_RETURN_IF_ERROR(SendAcked(kSetVringCall, U64(i), call));
    const int err[] = {queue.err.get()};
    VFSD_RETURN_IF_ERROR(SendAcked(kSetVringErr, U64(i), err));
  }

  uint64_t features = offered & (1ull << VIRTIO_F_VERSION_1);
  if (options_.indirect_desc) features |= offered & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
  if (options_.event_idx) features |= offered & (1ull << VIRTIO_RING_F_EVENT_IDX);
  if (protocol) features |= 1ull << kVhostUserFProtocolFeatures;
  negotiated_.features = features;
  VFSD_RETURN_IF_ERROR(SendAcked(kSetFeatures, U64(features)));

  VFSD_RETURN_IF_ERROR(SendMemoryTable());
  for (int i = 0; i < total_queues; ++i) VFSD_RETURN_IF_ERROR(StartQueue(i));
  if (protocol) {
    for (int i = 0; i < total_queues; ++i) {
      VFSD_RETURN_IF_ERROR(SendAcked(kSetVringEnable, VringState(i, 1)));
    }
  }
  return absl::OkStatus();
}

absl::Status VhostUserFsDriver::SendMemoryTable() {
  std::vector<VhostUserMemoryRegion> regions;
  for (const GuestRegion& r : memory_->regions()) {
    regions.push_back({r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset});
  }
  if (HasProtocolFeature(kProtocolConfigureMemSlots)) {
    negotiated_.add_mem_reg = true;
    const int fds[] = {memory_->fd()};
    for (const VhostUserMemoryRegion& region : regions) {
      VhostUserSingleMemoryRegion message{0, region};
      VFSD_RETURN_IF_ERROR(SendAcked(kAddMemReg, AsBytes(message), fds, /*need_reply=*/true));
    }
    return absl::OkStatus();
  }
  if (regions.size() > kVhostUserMaxMemTableRegions) {
    return absl::InvalidArgumentError("too many regions for SET_MEM_TABLE");
  }
  VhostUserMemoryTableHeader header{static_cast<uint32_t>(regions.size()), 0};
  std::string payload(AsBytes(header));
  payload.append(reinterpret_cast<const char*>(regions.data()),
                 regions.size() * sizeof(VhostUserMemoryRegion));
  const std::vector<int> fds(regions.size(), memory_->fd());
  return SendAcked(kSetMemTable, payload, fds, /*need_reply=*/true);
}

absl::Status VhostUserFsDriver::StartQueue(int index) {
  Queue& queue = queues_[index];
  VFSD_ASSIGN_OR_RETURN(queue.ring, SplitRing::Create(memory_.get(), options_.queue_size,
                                                      HasFeature(VIRTIO_RING_F_EVENT_IDX)));
  VFSD_RETURN_IF_ERROR(SendAcked(kSetVringNum, VringState(index, options_.queue_size)));
  VFSD_RETURN_IF_ERROR(SendAcked(kSetVringBase, VringState(index, 0)));
  vhost_vring_addr addr{};
  addr.index = index;
  VFSD_ASSIGN_OR_RETURN(addr.desc_user_addr, memory_->UserAddress(queue.ring->desc_addr()));
  VFSD_ASSIGN_OR_RETURN(addr.avail_user_addr, memory_->UserAddress(queue.ring->avail_addr()));
  VFSD_ASSIGN_OR_RETURN(addr.used_user_addr, memory_->UserAddress(queue.ring->used_addr()));
  VFSD_RETURN_IF_ERROR(SendAcked(kSetVringAddr, AsBytes(addr)));
  const int kick[] = {queue.kick.get()};
  return SendAcked(kSetVringKick, U64(index), kick);
}

absl::StatusOr<uint64_t> VhostUserFsDriver::AddInFlight(int queue, uint16_t head, Ticket ticket) {
  const uint64_t id = next_ticket_++;
  queues_[queue].heads[head] = id;
  tickets_[id] = std::move(ticket);
  VFSD_RETURN_IF_ERROR(Kick(queue));
  return id;
}

absl::Status VhostUserFsDriver::Kick(int queue) {
  if (!queues_[queue].ring->Publish()) return absl::OkStatus();
  const uint64_t one = 1;
  if (write(queues_[queue].kick.get(), &one, sizeof(one)) != sizeof(one)) {
    return ErrnoError(errno, "kick");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> VhostUserFsDriver::Post(int queue, const DeviceRequest& request,
                                                 const PostOptions& options) {
  if (queue < 0 || queue >= num_queues()) return absl::InvalidArgumentError("no such queue");
  // One block of guest memory per request: readable buffers, writable buffers,
  // then the indirect table.
  std::vector<Segment> segments;
  std::vector<uint64_t> readable_offsets;
  uint64_t offset = 0;
  auto add_buffer = [&](uint64_t len, bool writable) {
    if (!writable) readable_offsets.push_back(offset);
    const uint64_t step = options.max_segment == 0 ? len : options.max_segment;
    uint64_t done = 0;
    do {  // a zero-length buffer still becomes one (zero-length) descriptor
      const uint64_t piece = std::min(step, len - done);
      segments.push_back({offset + done, static_cast<uint32_t>(piece), writable});
      done += piece;
    } while (done < len);
    offset = AlignUp(offset + len, 8);
  };
  for (const std::string& bytes : request.readable) add_buffer(bytes.size(), false);
  for (uint32_t size : request.writable) add_buffer(size, true);
  if (segments.empty()) return absl::InvalidArgumentError("empty request");
  const uint64_t table_offset = AlignUp(offset, 16);
  const uint64_t block_size =
      table_offset + (options.indirect ? segments.size() * sizeof(vring_desc) : 0);
  VFSD_ASSIGN_OR_RETURN(uint64_t block,
                        memory_->allocator().Allocate(std::max<uint64_t>(block_size, 1), 64));
  for (size_t i = 0; i < request.readable.size(); ++i) {
    VFSD_RETURN_IF_ERROR(memory_->Write(block + readable_offsets[i], request.readable[i]));
  }
  Ticket ticket{queue, block, {}};
  for (Segment& segment : segments) {
    segment.addr += block;
    if (segment.device_writable) ticket.writable.push_back(segment);
  }
  absl::StatusOr<uint16_t> head =
      options.indirect ? queues_[queue].ring->AddIndirect(block + table_offset, segments)
                       : queues_[queue].ring->AddChain(segments);
  if (!head.ok()) {
    memory_->allocator().Free(block).IgnoreError();
    return head.status();
  }
  return AddInFlight(queue, *head, std::move(ticket));
}

absl::StatusOr<uint64_t> VhostUserFsDriver::PostRaw(int queue,
                                                    absl::Span<const RawDescriptor> descriptors) {
  if (queue < 0 || queue >= num_queues()) return absl::InvalidArgumentError("no such queue");
  VFSD_ASSIGN_OR_RETURN(uint16_t head, queues_[queue].ring->AddRaw(descriptors));
  return AddInFlight(queue, head, Ticket{queue, 0, {}});
}

absl::Status VhostUserFsDriver::Harvest() {
  for (Queue& queue : queues_) {
    while (true) {
      VFSD_ASSIGN_OR_RETURN(std::optional<vring_used_elem> elem, queue.ring->PopUsed());
      if (!elem) break;
      auto head = queue.heads.find(elem->id);
      if (head == queue.heads.end()) return absl::InternalError("ring and driver disagree");
      const uint64_t id = head->second;
      queue.heads.erase(head);
      auto ticket = tickets_.find(id);
      DeviceCompletion completion;
      completion.used_len = elem->len;
      uint64_t left = elem->len;
      for (const Segment& segment : ticket->second.writable) {
        if (left == 0) break;
        const uint64_t take = std::min<uint64_t>(left, segment.len);
        if (completion.written.empty()) completion.written.reserve(left);
        completion.written.append(
            reinterpret_cast<const char*>(memory_->Translate(segment.addr, take)), take);
        left -= take;
      }
      if (ticket->second.block != 0) {
        VFSD_RETURN_IF_ERROR(memory_->allocator().Free(ticket->second.block));
      }
      tickets_.erase(ticket);
      completed_[id] = std::move(completion);
    }
  }
  return absl::OkStatus();
}

absl::Status VhostUserFsDriver::Sleep(absl::Time deadline) {
  for (Queue& queue : queues_) {
    if (queue.ring->in_flight() > 0 && queue.ring->EnableInterrupts()) return absl::OkStatus();
  }
  std::vector<pollfd> fds;
  for (Queue& queue : queues_) fds.push_back({queue.call.get(), POLLIN, 0});
  fds.push_back({channel_.fd(), POLLIN, 0});
  while (true) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      return absl::DeadlineExceededError(absl::StrFormat("%d requests unanswered after %s",
                                                         tickets_.size(),
                                                         absl::FormatDuration(options_.timeout)));
    }
    const int ready = poll(fds.data(), fds.size(), static_cast<int>(left_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoError(errno, "poll call eventfds");
    if (ready == 0) continue;
    break;
  }
  if (fds.back().revents != 0) {
    char byte;
    const ssize_t n = recv(channel_.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (fds.back().revents & (POLLHUP | POLLERR)) != 0) {
      return absl::UnavailableError("the vhost-user back-end closed the socket");
    }
    if (n > 0) return absl::DataLossError("unexpected message from the vhost-user back-end");
  }
  for (size_t i = 0; i + 1 < fds.size(); ++i) {
    if (fds[i].revents != 0) Drain(fds[i].fd);
  }
  return absl::OkStatus();
}

absl::StatusOr<DeviceCompletion> VhostUserFsDriver::Wait(uint64_t ticket) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  while (true) {
    VFSD_RETURN_IF_ERROR(Harvest());
    auto done = completed_.find(ticket);
    if (done != completed_.end()) {
      DeviceCompletion completion = std::move(done->second);
      completed_.erase(done);
      return completion;
    }
    if (tickets_.count(ticket) == 0) {
      return absl::NotFoundError(absl::StrFormat("ticket %d is not in flight", ticket));
    }
    VFSD_RETURN_IF_ERROR(Sleep(deadline));
  }
}

absl::StatusOr<std::pair<uint64_t, DeviceCompletion>> VhostUserFsDriver::WaitAny() {
  const absl::Time deadline = absl::Now() + options_.timeout;
  while (true) {
    VFSD_RETURN_IF_ERROR(Harvest());
    if (!completed_.empty()) {
      auto first = completed_.begin();
      std::pair<uint64_t, DeviceCompletion> result(first->first, std::move(first->second));
      completed_.erase(first);
      return result;
    }
    if (tickets_.empty()) return absl::FailedPreconditionError("nothing in flight");
    VFSD_RETURN_IF_ERROR(Sleep(deadline));
  }
}

absl::StatusOr<std::vector<uint16_t>> VhostUserFsDriver::StopQueues() {
  std::vector<uint16_t> bases;
  for (int i = 0; i < num_queues(); ++i) {
    VFSD_ASSIGN_OR_RETURN(VhostUserMessage reply,
                          channel_.Call(kGetVringBase, kVhostUserVersion, VringState(i, 0)));
    vhost_vring_state state{};
    if (reply.payload.size() != sizeof(state)) {
      return absl::DataLossError("GET_VRING_BASE reply of the wrong size");
    }
    memcpy(&state, reply.payload.data(), sizeof(state));
    bases.push_back(static_cast<uint16_t>(state.num));
  }
  return bases;
}

bool VhostUserFsDriver::ErrorSignaled(int queue) { return Drain(queues_[queue].err.get()); }

}  // namespace virtiofsd::driver
