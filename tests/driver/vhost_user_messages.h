// The vhost-user protocol's numbers and payload layouts (QEMU docs/interop/
// vhost-user.rst) that the test driver speaks as the front-end. vhost-user is not
// a kernel interface, so these are not in <linux/*>; where a payload has the same
// layout as a kernel vhost struct (vring state, vring address) that struct is used.

#ifndef VIRTIOFSD_TESTS_DRIVER_VHOST_USER_MESSAGES_H_
#define VIRTIOFSD_TESTS_DRIVER_VHOST_USER_MESSAGES_H_

#include <linux/vhost_types.h>

#include <cstdint>

namespace virtiofsd::driver {

// Front-end -> back-end request codes.
enum VhostUserRequest : uint32_t {
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
  kGetMaxMemSlots = 36,
  kAddMemReg = 37,
  kRemMemReg = 38,
};

// Header flags.
constexpr uint32_t kVhostUserVersion = 0x1;
constexpr uint32_t kVhostUserVersionMask = 0x3;
constexpr uint32_t kVhostUserReplyFlag = 1u << 2;
constexpr uint32_t kVhostUserNeedReplyFlag = 1u << 3;

// Virtio feature bit that only vhost-user defines.
constexpr int kVhostUserFProtocolFeatures = 30;

// Protocol feature bits.
enum VhostUserProtocolFeature : int {
  kProtocolMq = 0,
  kProtocolLogShmfd = 1,
  kProtocolReplyAck = 3,
  kProtocolBackendReq = 5,
  kProtocolConfig = 9,
  kProtocolBackendSendFd = 10,
  kProtocolHostNotifier = 11,
  kProtocolConfigureMemSlots = 15,
};

// SET_VRING_KICK/CALL/ERR payload: queue index in bits 0-7; this bit set means
// no fd is attached (polling mode).
constexpr uint64_t kVringNoFdFlag = 1ull << 8;

struct VhostUserHeader {
  uint32_t request;
  uint32_t flags;
  uint32_t size;  // payload bytes that follow
};
static_assert(sizeof(VhostUserHeader) == 12);

// "Memory region description". Same layout as struct vhost_memory_region, whose
// last field vhost-user redefines as the region's offset in the attached fd.
struct VhostUserMemoryRegion {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};
static_assert(sizeof(VhostUserMemoryRegion) == sizeof(vhost_memory_region));

// SET_MEM_TABLE payload (regions follow, one fd each).
constexpr uint32_t kVhostUserMaxMemTableRegions = 8;
struct VhostUserMemoryTableHeader {
  uint32_t nregions;
  uint32_t padding;
};

// ADD_MEM_REG / REM_MEM_REG payload (one fd with ADD).
struct VhostUserSingleMemoryRegion {
  uint64_t padding;
  VhostUserMemoryRegion region;
};

// Payload sizes of the messages whose payload is a kernel struct.
static_assert(sizeof(vhost_vring_state) == 8);
static_assert(sizeof(vhost_vring_addr) == 40);

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_VHOST_USER_MESSAGES_H_
