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
// Columns: OP(Name, Result, Effect)
//   Name    the oneof field in CamelCase (proto::Request::k##Name) and the
//           broker's handler method of the same name;
//   Result  the proto::Reply result case a successful reply holds
//           (RESULT_NOT_SET for one-way operations);
//   Effect  kReads: never changes the share (served on a read-only share);
//           kModifies: refused with EROFS on a read-only share;
//           kOneWay: gets no reply, and carries request id 0.
// Open is kReads: it asks for write access inside, and answers EROFS itself.

#ifndef VIRTIOFSD_COMMON_CHANNEL_OPERATIONS_H_
#define VIRTIOFSD_COMMON_CHANNEL_OPERATIONS_H_

#include <optional>

#include "proto/broker.pb.h"

#define VIRTIOFSD_BROKER_OPERATIONS(OP)        \
  OP(Handshake, kHandshake, kReads)            \
  OP(Lookup, kEntry, kReads)                   \
  OP(Forget, RESULT_NOT_SET, kOneWay)          \
  OP(BatchForget, RESULT_NOT_SET, kOneWay)     \
  OP(Getattr, kAttr, kReads)                   \
  OP(Setattr, kAttr, kModifies)                \
  OP(Readlink, kReadlink, kReads)              \
  OP(Symlink, kEntry, kModifies)               \
  OP(Mknod, kEntry, kModifies)                 \
  OP(Mkdir, kEntry, kModifies)                 \
  OP(Unlink, kEmpty, kModifies)                \
  OP(Rmdir, kEmpty, kModifies)                 \
  OP(Rename, kEmpty, kModifies)                \
  OP(Link, kEntry, kModifies)                  \
  OP(Open, kOpen, kReads)                      \
  OP(Create, kCreate, kModifies)               \
  OP(Tmpfile, kCreate, kModifies)              \
  OP(Release, kEmpty, kReads)                  \
  OP(Flush, kEmpty, kReads)                    \
  OP(Fsync, kEmpty, kReads)                    \
  OP(Opendir, kOpendir, kReads)                \
  OP(Readdir, kReaddir, kReads)                \
  OP(Releasedir, kEmpty, kReads)               \
  OP(Fsyncdir, kEmpty, kReads)                 \
  OP(Statfs, kStatfs, kReads)                  \
  OP(Access, kEmpty, kReads)                   \
  OP(Setxattr, kEmpty, kModifies)              \
  OP(Getxattr, kXattr, kReads)                 \
  OP(Listxattr, kXattr, kReads)                \
  OP(Removexattr, kEmpty, kModifies)           \
  OP(Fallocate, kEmpty, kModifies)             \
  OP(Lseek, kLseek, kReads)                    \
  OP(CopyFileRange, kCopyFileRange, kModifies) \
  OP(Syncfs, kEmpty, kReads)                   \
  OP(Getlk, kGetlk, kReads)                    \
  OP(Setlk, kEmpty, kReads)                    \
  OP(Interrupt, RESULT_NOT_SET, kOneWay)       \
  OP(Destroy, kEmpty, kReads)

namespace virtiofsd {

enum class OpEffect { kReads, kModifies, kOneWay };

struct OperationRule {
  proto::Request::OpCase op;
  proto::Reply::ResultCase result;
  OpEffect effect;
};

inline constexpr OperationRule kOperations[] = {
#define VIRTIOFSD_OPERATION_RULE(name, result, effect) \
  {proto::Request::k##name, proto::Reply::result, OpEffect::effect},
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
