#include "frontend/fuse_init.h"

#include <errno.h>
#include <linux/fuse.h>

#include <algorithm>
#include <cstddef>

#include "common/logging.h"

namespace virtiofsd::fuse_op {
namespace {

// Forgets the session's open files and lock waits.
void EndSession(FuseContext& context) {
  context.open_files().Clear();
  context.InterruptAtBroker(context.lock_waits().EndAll());
}

}  // namespace

void Init(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_init_in in{};
  const size_t size = std::min(call->args.size(), sizeof(in));
  if (size < offsetof(fuse_init_in, flags2)) return call->Malformed("short INIT");
  call->Arg(in, size);
  fuse_init_out out{};
  out.major = FUSE_KERNEL_VERSION;
  out.minor = FUSE_KERNEL_MINOR_VERSION;
  if (in.major > FUSE_KERNEL_VERSION) {
    // The guest retries INIT with our major version.
    return call->Reply(0, {Bytes(out)});
  }
  if (in.major < FUSE_KERNEL_VERSION || in.minor < kMinGuestMinor) {
    VFSD_LOG(kError, "guest FUSE protocol %u.%u is older than 7.%u", in.major, in.minor,
             kMinGuestMinor);
    return call->ReplyError(EPROTO);
  }
  const FuseOptions& options = context.options();
  uint64_t offered = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_ASYNC_DIO |
                     FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_INIT_EXT;
  // The broker holds OFD locks per lock owner and flock()s, and waits without
  // blocking other requests.
  offered |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
  if (options.cache == CachePolicy::kAuto) offered |= FUSE_AUTO_INVAL_DATA;
  if (options.readdirplus) offered |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
  if (options.writeback) offered |= FUSE_WRITEBACK_CACHE;
  if (options.announce_submounts) offered |= FUSE_SUBMOUNTS;
  if (options.killpriv_v2) offered |= FUSE_HANDLE_KILLPRIV_V2;
  if (options.posix_acl) offered |= FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;
  uint64_t wanted = in.flags;
  if (in.flags & FUSE_INIT_EXT) wanted |= static_cast<uint64_t>(in.flags2) << 32;
  const uint64_t negotiated = offered & wanted;

  out.minor = std::min<uint32_t>(in.minor, FUSE_KERNEL_MINOR_VERSION);
  out.max_readahead = in.max_readahead;
  out.flags = static_cast<uint32_t>(negotiated);
  out.flags2 = static_cast<uint32_t>(negotiated >> 32);
  out.max_background = 64;
  out.congestion_threshold = 48;
  out.max_write = kMaxIoBytes;
  out.time_gran = 1;
  out.max_pages = kMaxIoBytes / 4096;
  if (context.initialized.load(std::memory_order_acquire)) {
    EndSession(context);
    proto::Request destroy = FuseContext::NewRequest(*call);
    destroy.mutable_destroy();
    if (context.Call(*call, std::move(destroy)) != 0) {
      VFSD_LOG(kError, "broker did not end the previous session");
      return call->ReplyError(EIO);
    }
  }
  context.setxattr_ext.store(negotiated & FUSE_SETXATTR_EXT, std::memory_order_relaxed);
  // Linux 6.1 (7.37) and later clear S_ISGID of new files themselves (since 6.0),
  // knowing all of the caller's groups.
  context.guest_strips_setgid.store(in.minor >= 37, std::memory_order_relaxed);
  context.initialized.store(true, std::memory_order_release);
  VFSD_LOG(kInfo, "FUSE session up: guest protocol 7.%u, flags 0x%llx", in.minor,
           static_cast<unsigned long long>(negotiated));
  call->Reply(0, {Bytes(out)});
}

void Destroy(FuseContext& context, std::unique_ptr<FuseCall> call) {
  EndSession(context);
  context.initialized.store(false, std::memory_order_release);
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_destroy();
  context.ForwardEmpty(std::move(call), std::move(request));
}

}  // namespace virtiofsd::fuse_op
