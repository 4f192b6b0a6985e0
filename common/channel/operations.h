// The one table of the broker protocol's operations (proto/broker.proto's
// Request.op). Everything that depends on the set of operations comes from it:
// the wire rules in common/channel/broker_wire (which result answers which request,
// which requests are one-way), the broker's handler dispatch (one method per
// row, named like the row: the Server's own for the channel's rows that
// broker/filesystem.h's ServedByServer() names, FileSystem's for every other
// row; the Effect column decides EROFS), and the frontend's check that every row
// is sent by some FUSE opcode. Adding an operation means adding a row here and
// its oneof field in the proto; a row without a broker handler does not build,
// and a oneof field without a row fails //common/channel:operations_test.
//
// Columns: OP(Name, Result, Effect, Pace)
//   Name    the oneof field in CamelCase (proto::Request::k##Name) and the
//           broker's handler method of the same name;
//   Result  the proto::Reply result case a successful reply holds
//           (RESULT_NOT_SET for one-way operations);
//   Effect  kReads: never changes the share (served on a read-only share);
//           kModifies: refused with EROFS on a read-only share;
//           kOneWay: gets no reply, and carries request id 0.
//   Pace    kQuick: a few microseconds of broker work (metadata, open, read-only
//           calls), so the frontend batches it with the requests around it;
//           kSlow: may take the disk's time (syncs, allocation, copies), so it
//           travels alone and never holds up the requests batched with it.
// Open is kReads: it asks for write access inside, and answers EROFS itself.

#ifndef VIRTIOFSD_COMMON_CHANNEL_OPERATIONS_H_
#define VIRTIOFSD_COMMON_CHANNEL_OPERATIONS_H_

#include <optional>

#include "proto/broker.pb.h"

#define VIRTIOFSD_BROKER_OPERATIONS(OP)               \
  OP(Handshake, kHandshake, kReads, kQuick)           \
  OP(Lookup, kEntry, kReads, kQuick)                  \
  OP(Forget, RESULT_NOT_SET, kOneWay, kQuick)         \
  OP(BatchForget, RESULT_NOT_SET, kOneWay, kQuick)    \
  OP(Getattr, kAttr, kReads, kQuick)                  \
  OP(Setattr, kAttr, kModifies, kQuick)               \
  OP(Readlink, kReadlink, kReads, kQuick)             \
  OP(Symlink, kEntry, kModifies, kQuick)              \
  OP(Mknod, kEntry, kModifies, kQuick)                \
  OP(Mkdir, kEntry, kModifies, kQuick)                \
  OP(Unlink, kEmpty, kModifies, kQuick)               \
  OP(Rmdir, kEmpty, kModifies, kQuick)                \
  OP(Rename, kEmpty, kModifies, kQuick)               \
  OP(Link, kEntry, kModifies, kQuick)                 \
  OP(Open, kOpen, kReads, kQuick)                     \
  OP(Create, kCreate, kModifies, kQuick)              \
  OP(Tmpfile, kCreate, kModifies, kQuick)             \
  OP(Release, kEmpty, kReads, kQuick)                 \
  OP(Flush, kEmpty, kReads, kQuick)                   \
  OP(Fsync, kEmpty, kReads, kSlow)                    \
  OP(Opendir, kOpendir, kReads, kQuick)               \
  OP(Readdir, kReaddir, kReads, kQuick)               \
  OP(Releasedir, kEmpty, kReads, kQuick)              \
  OP(Fsyncdir, kEmpty, kReads, kSlow)                 \
  OP(Statfs, kStatfs, kReads, kQuick)                 \
  OP(Access, kEmpty, kReads, kQuick)                  \
  OP(Setxattr, kEmpty, kModifies, kQuick)             \
  OP(Getxattr, kXattr, kReads, kQuick)                \
  OP(Listxattr, kXattr, kReads, kQuick)               \
  OP(Removexattr, kEmpty, kModifies, kQuick)          \
  OP(Fallocate, kEmpty, kModifies, kSlow)             \
  OP(Lseek, kLseek, kReads, kQuick)                   \
  OP(CopyFileRange, kCopyFileRange, kModifies, kSlow) \
  OP(Syncfs, kEmpty, kReads, kSlow)                   \
  OP(Getlk, kGetlk, kReads, kQuick)                   \
  OP(Setlk, kEmpty, kReads, kQuick)                   \
  OP(Interrupt, RESULT_NOT_SET, kOneWay, kQuick)      \
  OP(Destroy, kEmpty, kReads, kQuick)

namespace virtiofsd {

enum class OpEffect { kReads, kModifies, kOneWay };
enum class OpPace { kQuick, kSlow };

struct OperationRule {
  proto::Request::OpCase op;
  proto::Reply::ResultCase result;
  OpEffect effect;
  OpPace pace;
};

inline constexpr OperationRule kOperations[] = {
#define VIRTIOFSD_OPERATION_RULE(name, result, effect, pace) \
  {proto::Request::k##name, proto::Reply::result, OpEffect::effect, OpPace::pace},
    VIRTIOFSD_BROKER_OPERATIONS(VIRTIOFSD_OPERATION_RULE)
#undef VIRTIOFSD_OPERATION_RULE
};

// The row of `op`, or nullopt for OP_NOT_SET and for a case the table lacks.
constexpr std::optional<OperationRule> FindOperation(proto::Request::OpCase op) {
  for (const OperationRule& rule : kOperations) {
    if (rule.op == op) return rule;
  }
  return std::nullopt;
}

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_CHANNEL_OPERATIONS_H_
