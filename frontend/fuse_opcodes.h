// The one table of FUSE opcodes (enum fuse_opcode of <linux/fuse.h>): each is
// either served by a frontend handler, listed with the broker operations
// (rows of common/channel/operations.h) that handler sends, or answered ENOSYS with the
// reason next to it. FuseSession's dispatch (a number listed twice does not
// build: duplicate case) and FuseContext's check of what a handler sends come from
// it: //frontend:fuse_opcodes_test holds it to the kernel header (every opcode
// exactly once) and to the broker table (every broker operation but Handshake,
// which the broker client sends itself, is sent by some served opcode), and
// FuseContext::Forward() refuses a request its opcode does not list.
//
// Columns: SERVED(Opcode, Handler, BrokerOps...) where Handler names the function
// fuse_op::Handler(FuseContext&, std::unique_ptr<FuseCall>) of a frontend room;
// UNSERVED(Opcode, Reason).

#ifndef VIRTIOFSD_FRONTEND_FUSE_OPCODES_H_
#define VIRTIOFSD_FRONTEND_FUSE_OPCODES_H_

#include <linux/fuse.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proto/broker.pb.h"

// clang-format off
#define VIRTIOFSD_FUSE_OPCODES(SERVED, UNSERVED)                                     \
  SERVED(FUSE_LOOKUP, Lookup, kLookup)                                               \
  SERVED(FUSE_FORGET, Forget, kForget)                                               \
  SERVED(FUSE_GETATTR, Getattr, kGetattr)                                            \
  SERVED(FUSE_SETATTR, Setattr, kSetattr)                                            \
  SERVED(FUSE_READLINK, Readlink, kReadlink)                                         \
  SERVED(FUSE_SYMLINK, Symlink, kSymlink)                                            \
  SERVED(FUSE_MKNOD, Mknod, kMknod)                                                  \
  SERVED(FUSE_MKDIR, Mkdir, kMkdir)                                                  \
  SERVED(FUSE_UNLINK, Unlink, kUnlink)                                               \
  SERVED(FUSE_RMDIR, Rmdir, kRmdir)                                                  \
  SERVED(FUSE_RENAME, Rename, kRename)                                               \
  SERVED(FUSE_LINK, Link, kLink)                                                     \
  SERVED(FUSE_OPEN, Open, kOpen)                                                     \
  /* Data moves through the fd OPEN received: no broker request. */                  \
  SERVED(FUSE_READ, Read)                                                            \
  /* The broker removes a remapped security.capability, or restores set-id bits. */ \
  SERVED(FUSE_WRITE, Write, kSetattr)                                                \
  SERVED(FUSE_STATFS, Statfs, kStatfs)                                               \
  SERVED(FUSE_RELEASE, Release, kRelease)                                            \
  SERVED(FUSE_FSYNC, Fsync, kFsync)                                                  \
  SERVED(FUSE_SETXATTR, Setxattr, kSetxattr)                                         \
  SERVED(FUSE_GETXATTR, Getxattr, kGetxattr)                                         \
  SERVED(FUSE_LISTXATTR, Listxattr, kListxattr)                                      \
  SERVED(FUSE_REMOVEXATTR, Removexattr, kRemovexattr)                                \
  SERVED(FUSE_FLUSH, Flush, kFlush)                                                  \
  /* A repeated INIT (a rebooted guest) ends the previous session and its waits. */ \
  SERVED(FUSE_INIT, Init, kDestroy, kInterrupt)                                      \
  SERVED(FUSE_OPENDIR, Opendir, kOpendir)                                            \
  SERVED(FUSE_READDIR, Readdir, kReaddir)                                            \
  SERVED(FUSE_RELEASEDIR, Releasedir, kReleasedir)                                   \
  SERVED(FUSE_FSYNCDIR, Fsyncdir, kFsyncdir)                                         \
  SERVED(FUSE_GETLK, Getlk, kGetlk)                                                  \
  SERVED(FUSE_SETLK, Setlk, kSetlk)                                                  \
  /* A wait ends early by an InterruptRequest for it. */                             \
  SERVED(FUSE_SETLKW, Setlk, kSetlk, kInterrupt)                                     \
  SERVED(FUSE_ACCESS, Access, kAccess)                                               \
  SERVED(FUSE_CREATE, Create, kCreate)                                               \
  SERVED(FUSE_INTERRUPT, Interrupt, kInterrupt)                                      \
  UNSERVED(FUSE_BMAP, "block mapping is for filesystems on a block device; the share is none") \
  SERVED(FUSE_DESTROY, Destroy, kDestroy, kInterrupt)                                \
  UNSERVED(FUSE_IOCTL, "an ioctl the guest chooses would run on host files: refused") \
  UNSERVED(FUSE_POLL, "files of the share are always ready: no poll notifications") \
  UNSERVED(FUSE_NOTIFY_REPLY, "the frontend sends no NOTIFY_RETRIEVE to be answered") \
  SERVED(FUSE_BATCH_FORGET, BatchForget, kBatchForget)                               \
  SERVED(FUSE_FALLOCATE, Fallocate, kFallocate)                                      \
  SERVED(FUSE_READDIRPLUS, Readdir, kReaddir)                                        \
  SERVED(FUSE_RENAME2, Rename2, kRename)                                             \
  SERVED(FUSE_LSEEK, Lseek, kLseek)                                                  \
  SERVED(FUSE_COPY_FILE_RANGE, CopyFileRange, kCopyFileRange)                        \
  UNSERVED(FUSE_SETUPMAPPING, "no DAX window: the device offers no shared cache region") \
  UNSERVED(FUSE_REMOVEMAPPING, "no DAX window: the device offers no shared cache region") \
  SERVED(FUSE_SYNCFS, Syncfs, kSyncfs)                                               \
  SERVED(FUSE_TMPFILE, Tmpfile, kTmpfile)                                            \
  UNSERVED(CUSE_INIT, "CUSE serves character devices; this is a filesystem")         \
  UNSERVED(CUSE_INIT_BSWAP_RESERVED, "reserved: marks a peer of the other byte order") \
  UNSERVED(FUSE_INIT_BSWAP_RESERVED, "reserved: marks a peer of the other byte order")
// clang-format on

namespace virtiofsd {

// The most broker operations one opcode sends.
inline constexpr size_t kMaxSendsPerOpcode = 2;

struct FuseOpcodeRow {
  uint32_t opcode;
  std::string_view name;  // As <linux/fuse.h> spells it, e.g. "FUSE_LOOKUP".
  bool served;
  std::string_view unserved_reason;  // Empty for served opcodes.
  std::array<proto::Request::OpCase, kMaxSendsPerOpcode> sends;
  size_t send_count;
};

namespace fuse_opcodes_internal {
using enum proto::Request::OpCase;
template <typename... Ops>
constexpr FuseOpcodeRow Served(uint32_t opcode, std::string_view name, Ops... sends) {
  static_assert(sizeof...(sends) <= kMaxSendsPerOpcode);
  return FuseOpcodeRow{opcode, name, true, {}, {sends...}, sizeof...(sends)};
}
#define VIRTIOFSD_FUSE_SERVED_ROW(opcode, handler, ...) \
  Served(opcode, #opcode __VA_OPT__(, ) __VA_ARGS__),
#define VIRTIOFSD_FUSE_UNSERVED_ROW(opcode, reason) \
  FuseOpcodeRow{opcode, #opcode, false, reason, {}, 0},
inline constexpr FuseOpcodeRow kRows[] = {
    VIRTIOFSD_FUSE_OPCODES(VIRTIOFSD_FUSE_SERVED_ROW, VIRTIOFSD_FUSE_UNSERVED_ROW)};
#undef VIRTIOFSD_FUSE_SERVED_ROW
#undef VIRTIOFSD_FUSE_UNSERVED_ROW
}  // namespace fuse_opcodes_internal

inline constexpr auto& kFuseOpcodes = fuse_opcodes_internal::kRows;

// The row of `opcode`, or nullopt for a number the table lacks.
constexpr std::optional<FuseOpcodeRow> FindFuseOpcode(uint32_t opcode) {
  for (const FuseOpcodeRow& row : kFuseOpcodes) {
    if (row.opcode == opcode) return row;
  }
  return std::nullopt;
}

// Whether the handler of `opcode` may send broker operation `op`.
constexpr bool OpcodeSends(uint32_t opcode, proto::Request::OpCase op) {
  std::optional<FuseOpcodeRow> row = FindFuseOpcode(opcode);
  if (!row) return false;
  for (size_t i = 0; i < row->send_count; ++i) {
    if (row->sends[i] == op) return true;
  }
  return false;
}

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_OPCODES_H_
