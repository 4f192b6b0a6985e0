#include "frontend/fuse_data_path.h"

#include <errno.h>
#include <limits.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace virtiofsd::fuse_op {
namespace {

// Runs `io` for `call` on a worker of the pool, or here without one.
void RunIo(FuseContext& context, std::unique_ptr<FuseCall> call,
           void (*io)(FuseContext&, FuseCall&)) {
  if (context.pool() == nullptr) return io(context, *call);
  context.pool()->Schedule(
      [&context, io, call = std::move(call)]() mutable { io(context, *call); });
}

void DoRead(FuseContext& context, FuseCall& call) {
  fuse_read_in in;
  call.Arg(in);
  std::shared_ptr<const OpenFile> file = context.open_files().Get(in.fh);
  if (file == nullptr) return call.ReplyError(EBADF);
  ChainCursor out(call.chain.chain().writable);
  if (out.remaining() < sizeof(fuse_out_header)) return call.Reply(0);  // Reply() drops it.
  IovecList header = out.Take(sizeof(fuse_out_header));
  IovecList data = out.Take(in.size);
  if (data.size() > IOV_MAX) return call.Malformed("READ buffer in too many pieces");
  const ssize_t n = preadv(file->fd.get(), data.data(), static_cast<int>(data.size()),
                           static_cast<off_t>(in.offset));
  if (n < 0) return call.ReplyError(errno);
  call.ReplyWritten(header, static_cast<size_t>(n));
}

// A Setattr of its own for a WRITE through `handle` (open on file.node), as the
// writer: with `mode`, a chmod; without, kill_priv. Returns the errno.
int BrokerSetattr(FuseContext& context, const FuseCall& call, const OpenFile& file, uint64_t handle,
                  std::optional<mode_t> mode) {
  proto::Request request = FuseContext::NewRequest(call);
  proto::SetattrRequest* setattr = request.mutable_setattr();
  setattr->set_node(file.node);
  setattr->set_handle(handle);
  setattr->set_valid(FATTR_FH);
  if (mode) {
    setattr->set_valid(FATTR_FH | FATTR_MODE);
    setattr->set_mode(*mode);
  } else {
    setattr->set_kill_priv(true);
  }
  return context.Call(call, std::move(request));
}

void DoWrite(FuseContext& context, FuseCall& call) {
  fuse_write_in in;
  call.Arg(in);
  std::shared_ptr<const OpenFile> file = context.open_files().Get(in.fh);
  if (file == nullptr) return call.ReplyError(EBADF);
  if (file->kill_priv.load(std::memory_order_relaxed)) {
    if (int err = BrokerSetattr(context, call, *file, in.fh, /*mode=*/std::nullopt)) {
      return call.ReplyError(err);
    }
    file->kill_priv.store(false, std::memory_order_relaxed);
  }
  // The kernel clears set-id bits on every write of ours, as FUSE_WRITE_KILL_SUIDGID
  // asks; a guest root writer (CAP_FSETID unless the guest says kill) keeps them.
  std::optional<mode_t> keep_mode;
  if (call.in.uid == 0 && !(in.write_flags & FUSE_WRITE_KILL_SUIDGID)) {
    struct stat st;
    if (fstat(file->fd.get(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
      keep_mode = st.st_mode & 07777;
    }
  }
  const ssize_t n =
      pwritev(file->fd.get(), call.write_data.data(), static_cast<int>(call.write_data.size()),
              static_cast<off_t>(in.offset));
  if (n < 0) return call.ReplyError(errno);
  struct stat after;
  if (keep_mode && fstat(file->fd.get(), &after) == 0 && (after.st_mode & 07777) != *keep_mode) {
    if (int err = BrokerSetattr(context, call, *file, in.fh, keep_mode)) {
      VFSD_LOG(kWarn, "set-id bits of node %llu not restored: %s",
               static_cast<unsigned long long>(file->node), strerror(err));
    }
  }
  fuse_write_out out{};
  out.size = static_cast<uint32_t>(n);
  call.Reply(0, {Bytes(out)});
}

}  // namespace

void Read(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_read_in in;
  if (!call->Arg(in)) return call->Malformed("short READ");
  if (in.size > kMaxIoBytes) return call->Malformed("READ larger than max_pages");
  call->pos = 0;  // DoRead() reads the argument again.
  RunIo(context, std::move(call), &DoRead);
}

void Write(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_write_in in;
  if (!call->Arg(in)) return call->Malformed("short WRITE");
  size_t available = 0;
  for (const iovec& piece : call->write_data) available += piece.iov_len;
  if (in.size > kMaxIoBytes || in.size != available) {
    return call->Malformed(absl::StrCat("WRITE of ", in.size, " bytes carries ", available));
  }
  if (call->write_data.size() > IOV_MAX) return call->Malformed("WRITE data in too many pieces");
  call->pos = 0;  // DoWrite() reads the argument again.
  RunIo(context, std::move(call), &DoWrite);
}

}  // namespace virtiofsd::fuse_op
