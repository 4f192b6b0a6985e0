// POSIX (OFD) and flock locks, and interrupts: GETLK and SETLK are forwarded;
// SETLKW waits at the broker without holding a queue thread, registered in the
// context's LockWaits so that it can be ended early, by the guest's INTERRUPT
// naming it, by its queue stopping (EndQueueWaits), or by DESTROY or a new INIT.
// Ending a wait sends an InterruptRequest; the broker answers the wait EINTR.
//
// INTERRUPT gets no reply; it ends only lock waits (other requests finish on
// their own, and FUSE lets a server ignore interrupts of them). More than
// kMaxLockWaits waits in flight answer ENOLCK, as the broker's own limit would.

#ifndef VIRTIOFSD_FRONTEND_FUSE_LOCKS_H_
#define VIRTIOFSD_FRONTEND_FUSE_LOCKS_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd {

// Ends the lock waits of queue `queue` (EINTR), so the queue's stop does not wait
// for a lock that someone else holds.
void EndQueueWaits(FuseContext& context, int queue);

namespace fuse_op {

void Getlk(FuseContext& context, std::unique_ptr<FuseCall> call);
// SETLK and SETLKW.
void Setlk(FuseContext& context, std::unique_ptr<FuseCall> call);
void Interrupt(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace fuse_op
}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_LOCKS_H_
