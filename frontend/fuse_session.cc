#include "frontend/fuse_session.h"

#include <errno.h>
#include <linux/fuse.h>

#include <memory>
#include <optional>
#include <string>

#include "common/logging.h"
#include "frontend/fuse_call.h"
#include "frontend/fuse_data_path.h"
#include "frontend/fuse_dir_ops.h"
#include "frontend/fuse_file_ops.h"
#include "frontend/fuse_init.h"
#include "frontend/fuse_locks.h"
#include "frontend/fuse_name_ops.h"
#include "frontend/fuse_node_ops.h"
#include "frontend/fuse_opcodes.h"
#include "frontend/fuse_xattr_ops.h"

namespace virtiofsd {
namespace {

using Handler = void (*)(FuseContext&, std::unique_ptr<FuseCall>);

// The handler the table names for `opcode`; nullptr for ENOSYS. A number listed
// twice in the table does not build (duplicate case).
Handler HandlerFor(uint32_t opcode) {
  switch (opcode) {
#define VIRTIOFSD_SERVED_CASE(opcode, handler, ...) \
  case opcode:                                      \
    return &fuse_op::handler;
#define VIRTIOFSD_UNSERVED_CASE(opcode, reason) \
  case opcode:                                  \
    return nullptr;
    VIRTIOFSD_FUSE_OPCODES(VIRTIOFSD_SERVED_CASE, VIRTIOFSD_UNSERVED_CASE)
#undef VIRTIOFSD_SERVED_CASE
#undef VIRTIOFSD_UNSERVED_CASE
    default:
      return nullptr;
  }
}

}  // namespace

FuseSession::FuseSession(BrokerClient& broker, FuseOptions options, WorkerPool* pool)
    : context_(broker, options, pool) {}

FuseSession::FuseSession(BrokerLink& link, FuseOptions options, WorkerPool* pool)
    : context_(link, options, pool) {}

void FuseSession::HandleChain(PendingChain pending) {
  std::unique_ptr<FuseCall> call = FuseCall::Decode(std::move(pending));
  if (call == nullptr) return;  // Answered (or dropped) by Decode().
  const uint32_t opcode = call->in.opcode;
  Handler handler = HandlerFor(opcode);
  if (handler == nullptr) {
    const std::optional<FuseOpcodeRow> row = FindFuseOpcode(opcode);
    VFSD_LOG(kDebug, "FUSE opcode %u answered ENOSYS: %s", opcode,
             row ? std::string(row->unserved_reason) : std::string("unknown opcode"));
    return call->ReplyError(ENOSYS);
  }
  if (!initialized() && opcode != FUSE_INIT) return call->ReplyError(EIO);
  // With the broker gone every request fails, the READs and WRITEs of files the
  // frontend holds open too: one clear state for the guest (BrokerClient::up()).
  if ((opcode == FUSE_READ || opcode == FUSE_WRITE) && !context_.broker_up()) {
    return call->ReplyError(EIO);
  }
  handler(context_, std::move(call));
}

void FuseSession::QueueStopping(int queue) { EndQueueWaits(context_, queue); }

}  // namespace virtiofsd
