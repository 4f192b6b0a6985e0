// Wire constants and message layouts of the vhost-user protocol (QEMU's
// docs/interop/vhost-user.rst) that a virtio-fs backend uses. Pure definitions:
// kernel headers cover virtio and vhost types; these are vhost-user's own.

#ifndef VIRTIOFSD_FRONTEND_VHOST_USER_PROTOCOL_H_
#define VIRTIOFSD_FRONTEND_VHOST_USER_PROTOCOL_H_

#include <cstddef>
#include <cstdint>

namespace virtiofsd::vhost_user {

enum Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kSetBackendReqFd = 21,
  kGetConfig = 24,
  kSetConfig = 25,
  kResetDevice = 34,
  kGetMaxMemSlots = 36,
  kAddMemReg = 37,
  kRemMemReg = 38,
};

// Protocol feature bits (VHOST_USER_PROTOCOL_F_*).
enum ProtocolFeature : uint64_t {
  kProtocolMq = 1ull << 0,
  kProtocolReplyAck = 1ull << 3,
  kProtocolConfig = 1ull << 9,
  kProtocolResetDevice = 1ull << 13,
  kProtocolConfigureMemSlots = 1ull << 15,
};

// Virtio feature bit that announces protocol features (VHOST_USER_F_PROTOCOL_FEATURES).
inline constexpr uint64_t kFeatureProtocolFeatures = 1ull << 30;

// Header flags.
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kReplyFlag = 0x4;
inline constexpr uint32_t kNeedReplyFlag = 0x8;

// Payload of SET_VRING_KICK/CALL/ERR: queue index and "no fd" bit.
inline constexpr uint64_t kVringIndexMask = 0xff;
inline constexpr uint64_t kVringNoFdFlag = 0x100;

// QEMU's limit on fds in one message, and the largest payload we accept.
inline constexpr size_t kMaxFds = 8;
inline constexpr size_t kMaxPayload = 4096;
// Regions per SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS).
inline constexpr size_t kMaxMemTableRegions = 8;
// Size of the virtio-fs config space we expose with --tag.
inline constexpr size_t kMaxConfigSize = 256;

struct Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;
} __attribute__((packed));

struct VringState {
  uint32_t index;
  uint32_t num;
};

struct VringAddr {
  uint32_t index;
  uint32_t flags;
  uint64_t desc_user_addr;
  uint64_t used_user_addr;
  uint64_t avail_user_addr;
  uint64_t log_guest_addr;
};

struct MemoryRegion {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};

struct MemoryTable {
  uint32_t nregions;
  uint32_t padding;
  MemoryRegion regions[kMaxMemTableRegions];
};

// ADD_MEM_REG / REM_MEM_REG.
struct SingleMemoryRegion {
  uint64_t padding;
  MemoryRegion region;
};

struct ConfigHeader {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
};

}  // namespace virtiofsd::vhost_user

#endif  // VIRTIOFSD_FRONTEND_VHOST_USER_PROTOCOL_H_
