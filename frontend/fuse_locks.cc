#include "frontend/fuse_locks.h"

#include <errno.h>
#include <linux/fuse.h>

#include <optional>

namespace virtiofsd {
namespace {

void ToProtoLock(const fuse_file_lock& lk, proto::FileLock& lock) {
  lock.set_start(lk.start);
  lock.set_end(lk.end);
  lock.set_type(lk.type);
  lock.set_pid(lk.pid);
}

}  // namespace

void EndQueueWaits(FuseContext& context, int queue) {
  context.InterruptAtBroker(context.lock_waits().EndQueue(queue));
}

namespace fuse_op {

void Getlk(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_lk_in in;
  if (!call->Arg(in)) return call->Malformed("short GETLK");
  proto::Request request = FuseContext::NewRequest(*call);
  proto::GetlkRequest* getlk = request.mutable_getlk();
  getlk->set_handle(in.fh);
  getlk->set_lock_owner(in.owner);
  ToProtoLock(in.lk, *getlk->mutable_lock());
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
                    const proto::FileLock& lock = response.reply.getlk().lock();
                    fuse_lk_out out{};
                    out.lk.start = lock.start();
                    out.lk.end = lock.end();
                    out.lk.type = lock.type();
                    out.lk.pid = lock.pid();
                    call.Reply(0, {Bytes(out)});
                  });
}

void Setlk(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_lk_in in;
  if (!call->Arg(in)) return call->Malformed("short SETLK");
  proto::Request request = FuseContext::NewRequest(*call);
  proto::SetlkRequest* setlk = request.mutable_setlk();
  setlk->set_handle(in.fh);
  setlk->set_lock_owner(in.owner);
  ToProtoLock(in.lk, *setlk->mutable_lock());
  const bool wait = call->in.opcode == FUSE_SETLKW;
  setlk->set_wait(wait);
  setlk->set_flock(in.lk_flags & FUSE_LK_FLOCK);
  if (!wait) return context.ForwardEmpty(std::move(call), std::move(request));
  // A waiting lock can be ended early: remember which broker request serves it.
  LockWaits& waits = context.lock_waits();
  std::optional<uint64_t> token = waits.Begin(call->in.unique, call->chain.queue_index());
  if (!token.has_value()) return call->ReplyError(ENOLCK);
  call->on_end = [&waits, token = *token] { waits.End(token); };
  std::optional<uint64_t> id = context.Forward(
      std::move(call), std::move(request), [](FuseCall& call, BrokerResponse&) { call.Reply(0); });
  if (id.has_value() && waits.Attach(*token, *id)) context.InterruptAtBroker({*id});
}

void Interrupt(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_interrupt_in in;
  if (call->Arg(in)) {
    if (std::optional<uint64_t> target = context.lock_waits().Interrupt(in.unique)) {
      context.InterruptAtBroker({*target});
    }
  }
  call->NoReply();
}

}  // namespace fuse_op
}  // namespace virtiofsd
