// The FUSE server of the frontend: decodes each FUSE request a descriptor chain
// carries, answers INIT, DESTROY, READ and WRITE itself (data moves between guest
// memory and the fds the broker passed), forwards every other operation to the
// broker, and encodes the reply into the chain.
//
// Guest bytes are checked before use: a header that does not match the chain, an
// argument too short, a name without its NUL, or a size beyond what was negotiated
// gets an errno reply (EINVAL unless the kernel's own rule says otherwise) and one
// log line; a chain too broken to carry a reply (no header, no room for the reply
// header) is returned empty. Unknown opcodes get ENOSYS.
//
// Thread-safety: HandleChain() may run on several queue threads at once; replies to
// forwarded requests are written on the broker client's receiver thread.

#ifndef VIRTIOFSD_FRONTEND_FUSE_SESSION_H_
#define VIRTIOFSD_FRONTEND_FUSE_SESSION_H_

#include <linux/fuse.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "common/broker_client.h"
#include "frontend/chain_io.h"
#include "frontend/fuse_options.h"
#include "frontend/lock_waits.h"
#include "frontend/open_files.h"
#include "frontend/queue_runner.h"
#include "frontend/worker_pool.h"

namespace virtiofsd {

// The largest READ/WRITE we negotiate (max_write, and max_pages of 4 KiB).
inline constexpr uint32_t kMaxIoBytes = 1 << 20;
// The oldest guest protocol we speak (Linux 5.4, the first with virtio-fs, has 7.31).
inline constexpr uint32_t kMinGuestMinor = 31;

class FuseSession : public ChainHandler {
 public:
  // `broker` and `pool` (if not null) must outlive the session. With a pool, READ
  // and WRITE run on its workers; without, on the queue thread.
  FuseSession(BrokerClient& broker, FuseOptions options, WorkerPool* pool = nullptr);

  void HandleChain(PendingChain chain) override;
  // Ends the queue's lock waits (EINTR), so the queue's stop does not wait for a
  // lock that someone else holds.
  void QueueStopping(int queue) override;

  bool initialized() const { return initialized_.load(std::memory_order_acquire); }

 private:
  struct Call;
  using Op = void (FuseSession::*)(std::unique_ptr<Call> call);
  using OnReply = absl::AnyInvocable<void(Call&, BrokerResponse&)>;

  static Op OpFor(uint32_t opcode);

  // Sends `request` for `call`; an error reply or a broken channel becomes the
  // call's errno; otherwise `on_reply` encodes the result.
  // Returns the broker request id, or nullopt when it could not be sent.
  std::optional<uint64_t> Forward(std::unique_ptr<Call> call, proto::Request request,
                                  OnReply on_reply);
  // Forward() for operations whose reply is only an errno.
  void ForwardEmpty(std::unique_ptr<Call> call, proto::Request request);
  void ForwardEntry(std::unique_ptr<Call> call, proto::Request request);
  void ForwardAttr(std::unique_ptr<Call> call, proto::Request request);
  // Getxattr/Listxattr: the bytes, or only their size when the guest asked for it.
  void ForwardXattr(std::unique_ptr<Call> call, proto::Request request, bool size_only);
  // fuse_open_out for a file the broker opened, with the --cache policy's flags.
  fuse_open_out OpenOut(uint64_t handle, uint32_t broker_flags) const;
  // CREATE/TMPFILE: records the new file's fd and answers entry + open.
  void ReplyCreated(Call& call, BrokerResponse& response);
  proto::Request NewRequest(const Call& call, uint32_t umask = 0) const;

  void Init(std::unique_ptr<Call> call);
  void Destroy(std::unique_ptr<Call> call);
  void Lookup(std::unique_ptr<Call> call);
  void Forget(std::unique_ptr<Call> call);
  void BatchForget(std::unique_ptr<Call> call);
  void Getattr(std::unique_ptr<Call> call);
  void Setattr(std::unique_ptr<Call> call);
  void Readlink(std::unique_ptr<Call> call);
  void Symlink(std::unique_ptr<Call> call);
  void Mknod(std::unique_ptr<Call> call);
  void Mkdir(std::unique_ptr<Call> call);
  void Unlink(std::unique_ptr<Call> call);
  void Rmdir(std::unique_ptr<Call> call);
  void Rename(std::unique_ptr<Call> call);
  void Rename2(std::unique_ptr<Call> call);
  void Link(std::unique_ptr<Call> call);
  void Open(std::unique_ptr<Call> call);
  void Create(std::unique_ptr<Call> call);
  void Tmpfile(std::unique_ptr<Call> call);
  void Read(std::unique_ptr<Call> call);
  void Write(std::unique_ptr<Call> call);
  // The I/O half of READ and WRITE, on a worker when there is a pool.
  void RunIo(std::unique_ptr<Call> call, void (FuseSession::*io)(Call&));
  void DoRead(Call& call);
  void DoWrite(Call& call);
  // A Setattr of its own for a WRITE through `handle` (open on file.node), as the
  // caller, waiting for the answer: with `mode`, a chmod; without, kill_priv.
  // Returns the errno (EIO when the broker is gone).
  int BrokerSetattr(const Call& call, const OpenFile& file, uint64_t handle,
                    std::optional<mode_t> mode);
  void Statfs(std::unique_ptr<Call> call);
  void Release(std::unique_ptr<Call> call);
  void Flush(std::unique_ptr<Call> call);
  void Fsync(std::unique_ptr<Call> call);
  void Opendir(std::unique_ptr<Call> call);
  void Readdir(std::unique_ptr<Call> call);
  void Releasedir(std::unique_ptr<Call> call);
  void Fsyncdir(std::unique_ptr<Call> call);
  void Access(std::unique_ptr<Call> call);
  void Setxattr(std::unique_ptr<Call> call);
  void Getxattr(std::unique_ptr<Call> call);
  void Listxattr(std::unique_ptr<Call> call);
  void Removexattr(std::unique_ptr<Call> call);
  void Fallocate(std::unique_ptr<Call> call);
  void Lseek(std::unique_ptr<Call> call);
  void CopyFileRange(std::unique_ptr<Call> call);
  void Syncfs(std::unique_ptr<Call> call);
  void Getlk(std::unique_ptr<Call> call);
  void Setlk(std::unique_ptr<Call> call);
  void Interrupt(std::unique_ptr<Call> call);

  // Sends the broker an InterruptRequest for each of `broker_ids`.
  void InterruptAtBroker(const std::vector<uint64_t>& broker_ids);

  BrokerClient& broker_;
  WorkerPool* const pool_;
  const FuseOptions options_;
  const uint64_t timeout_;
  std::atomic<bool> initialized_{false};
  std::atomic<bool> setxattr_ext_{false};
  std::atomic<bool> guest_strips_setgid_{false};  // proto CreateRequest.guest_strips_setgid
  OpenFiles open_files_;
  LockWaits lock_waits_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_SESSION_H_
