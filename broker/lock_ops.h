// The handlers of file locks: GETLK and SETLK (SETLKW with `wait`), for POSIX
// record locks and flock().
//
// POSIX locks become open file description (OFD) locks on a lock fd of their
// own per guest lock owner and inode (created on demand, counted against the fd
// budget: ENFILE beyond it), so each owner holds its own locks as a process
// does. flock() locks act on the handle's own open file. A lock that must wait
// is not taken here: the handler answers kWaitLater with Response::wait set, for
// the Server to run on a thread of its own (where INTERRUPT can end it).
// FLUSH and RELEASE drop an owner's lock fd (file_ops.h).
//
// Runs on the caller's credentials (Server switched them). Thread-safe.

#ifndef VIRTIOFSD_BROKER_LOCK_OPS_H_
#define VIRTIOFSD_BROKER_LOCK_OPS_H_

#include <cstdint>
#include <memory>

#include "broker/inode_store.h"
#include "broker/response.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class LockOps {
 public:
  // `store` must outlive this.
  explicit LockOps(InodeStore& store) : store_(store) {}

  // Each returns 0 (result in `response`) or a positive errno; Setlk also
  // kWaitLater.
  int Getlk(const proto::Request& request, Response& response);
  int Setlk(const proto::Request& request, Response& response);

 private:
  // The fd holding `owner`'s POSIX locks on the handle's inode (created on
  // demand). Returns 0 or the errno (ENFILE beyond the fd budget).
  int LockFd(const OpenHandle& handle, uint64_t owner, std::shared_ptr<LockFile>& out);

  InodeStore& store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_LOCK_OPS_H_
