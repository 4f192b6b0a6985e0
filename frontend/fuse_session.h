// The FUSE server of the frontend: decodes each FUSE request a descriptor chain
// carries (FuseCall) and dispatches it by the opcode table of fuse_opcodes.h to
// the handler of its room: INIT/DESTROY (fuse_init.h), READ/WRITE on the fds the
// broker passed (fuse_data_path.h), locks and interrupts (fuse_locks.h), and the
// operations forwarded to the broker by family (fuse_node_ops.h,
// fuse_name_ops.h, fuse_file_ops.h, fuse_dir_ops.h, fuse_xattr_ops.h).
//
// Guest bytes are checked before use: a header that does not match the chain, an
// argument too short, a name without its NUL, or a size beyond what was negotiated
// gets an errno reply (EINVAL unless the kernel's own rule says otherwise) and one
// log line; a chain too broken to carry a reply (no header, no room for the reply
// header) is returned empty. An opcode the table marks unserved, or does not
// know, gets ENOSYS; anything but INIT before INIT gets EIO.
//
// Thread-safety: HandleChain() may run on several queue threads at once; replies to
// forwarded requests are written on the broker client's receiver thread.

#ifndef VIRTIOFSD_FRONTEND_FUSE_SESSION_H_
#define VIRTIOFSD_FRONTEND_FUSE_SESSION_H_

#include "common/channel/broker_client.h"
#include "frontend/fuse_context.h"
#include "frontend/fuse_options.h"
#include "frontend/queue_runner.h"
#include "frontend/worker_pool.h"

namespace virtiofsd {

class FuseSession : public ChainHandler {
 public:
  // `broker` and `pool` (if not null) must outlive the session. With a pool, READ
  // and WRITE run on its workers; without, on the queue thread.
  FuseSession(BrokerClient& broker, FuseOptions options, WorkerPool* pool = nullptr);
  // Through `link`, whose broker may be replaced (frontend/broker_link.h).
  FuseSession(BrokerLink& link, FuseOptions options, WorkerPool* pool = nullptr);

  void HandleChain(PendingChain chain) override;
  // Ends the queue's lock waits (EINTR), so the queue's stop does not wait for a
  // lock that someone else holds.
  void QueueStopping(int queue) override;
  // The queue thread takes the broker's replies to its chains itself
  // (FuseContext::BeginPolling()...).
  void BeginPass() override { context_.BeginPolling(); }
  void AwaitReplies(absl::FunctionRef<bool()> chains_available) override {
    context_.PollReplies(chains_available);
  }
  void EndPass() override { context_.EndPolling(); }

  bool initialized() const { return context_.initialized.load(std::memory_order_acquire); }

 private:
  FuseContext context_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_SESSION_H_
