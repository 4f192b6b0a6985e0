#include "frontend/fuse_session.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/fs_names.h"
#include "common/logging.h"
#include "frontend/fuse_encode.h"

namespace virtiofsd {
namespace {

// Largest in-arguments we copy out of guest memory (everything but WRITE data):
// a SETXATTR with a 64 KiB value and its name is the largest legal one.
constexpr size_t kMaxArgBytes = 68 * 1024;
// Forgets per BatchForgetRequest, well inside one frame.
constexpr size_t kForgetsPerFrame = 2048;

std::string_view Bytes(const void* data, size_t size) {
  return std::string_view(static_cast<const char*>(data), size);
}

template <typename T>
std::string_view Bytes(const T& value) {
  return Bytes(&value, sizeof(T));
}

}  // namespace

// One FUSE request in progress. It always gets exactly one reply: a Call destroyed
// without one (a lost callback, a failed send) answers EIO.
struct FuseSession::Call {
  Call(PendingChain pending, const fuse_in_header& header)
      : chain(std::move(pending)), in(header) {}
  ~Call() {
    if (!done) ReplyError(EIO);
    if (on_end) on_end();
  }

  // Copies the next sizeof(T) argument bytes into `out`; false if too few remain.
  template <typename T>
  bool Arg(T& out, size_t size = sizeof(T)) {
    if (args.size() - pos < size || size > sizeof(T)) return false;
    out = T{};
    memcpy(&out, args.data() + pos, size);
    pos += size;
    return true;
  }
  // The next NUL-terminated string, without its NUL.
  std::optional<std::string_view> String() {
    const size_t end = args.find('\0', pos);
    if (end == std::string::npos) return std::nullopt;
    std::string_view s(args.data() + pos, end - pos);
    pos = end + 1;
    return s;
  }
  std::string_view Rest() const { return std::string_view(args).substr(pos); }

  // Writes the reply header and `parts` into the chain and completes it.
  void Reply(int error, std::initializer_list<std::string_view> parts = {}) {
    done = true;
    ChainCursor out(chain.chain().writable);
    size_t payload = 0;
    if (error == 0) {
      for (std::string_view part : parts) payload += part.size();
    }
    if (out.remaining() < sizeof(fuse_out_header)) {
      VFSD_LOG(kWarn, "FUSE request %llu (opcode %u): no room for a reply; dropped",
               static_cast<unsigned long long>(in.unique), in.opcode);
      chain.Complete(0);
      return;
    }
    if (sizeof(fuse_out_header) + payload > out.remaining()) {
      error = ERANGE;  // The guest gave less room than the reply needs.
      payload = 0;
    }
    fuse_out_header header{};
    header.len = static_cast<uint32_t>(sizeof(header) + payload);
    header.error = -error;
    header.unique = in.unique;
    out.CopyIn(&header, sizeof(header));
    if (error == 0) {
      for (std::string_view part : parts) out.CopyIn(part.data(), part.size());
    }
    chain.Complete(header.len);
  }
  void ReplyError(int error) { Reply(error); }
  // FORGET and friends: the chain goes back without a reply.
  void NoReply() {
    done = true;
    chain.Complete(0);
  }
  // Logs a malformed request and answers EINVAL.
  void Malformed(std::string_view what) {
    VFSD_LOG(kWarn, "FUSE request %llu (opcode %u): %s", static_cast<unsigned long long>(in.unique),
             in.opcode, std::string(what));
    ReplyError(EINVAL);
  }

  PendingChain chain;
  fuse_in_header in;
  std::string args;
  size_t pos = 0;
  IovecList write_data;  // WRITE's payload, still in guest memory.
  bool done = false;
  // Runs last, however the call ended (SETLKW's lock-wait bookkeeping).
  absl::AnyInvocable<void()> on_end;
};

FuseSession::FuseSession(BrokerClient& broker, FuseOptions options, WorkerPool* pool)
    : broker_(broker),
      pool_(pool),
      options_(options),
      timeout_(CacheTimeoutSeconds(options.cache)) {}

void FuseSession::HandleChain(PendingChain pending) {
  ChainCursor in(pending.chain().readable);
  fuse_in_header header;
  if (in.CopyOut(&header, sizeof(header)) != sizeof(header)) {
    VFSD_LOG(kWarn, "queue %d: chain without a FUSE header; dropped", pending.queue_index());
    return;  // PendingChain completes with nothing written.
  }
  auto call = std::make_unique<Call>(std::move(pending), header);
  if (header.len != call->chain.chain().readable_bytes) {
    return call->Malformed(absl::StrCat("header length ", header.len, " but the chain holds ",
                                        call->chain.chain().readable_bytes, " bytes"));
  }
  size_t arg_bytes = in.remaining();
  if (header.opcode == FUSE_WRITE) arg_bytes = std::min(arg_bytes, sizeof(fuse_write_in));
  if (arg_bytes > kMaxArgBytes) return call->Malformed("arguments too long");
  call->args.resize(arg_bytes);
  in.CopyOut(call->args.data(), arg_bytes);
  if (header.opcode == FUSE_WRITE) call->write_data = in.Take(in.remaining());

  Op op = OpFor(header.opcode);
  if (op == nullptr) {
    VFSD_LOG(kDebug, "FUSE opcode %u not implemented", header.opcode);
    return call->ReplyError(ENOSYS);
  }
  if (!initialized() && header.opcode != FUSE_INIT) return call->ReplyError(EIO);
  // With the broker gone every request fails, the READs and WRITEs of files the
  // frontend holds open too: one clear state for the guest (BrokerClient::up()).
  if ((header.opcode == FUSE_READ || header.opcode == FUSE_WRITE) && !broker_.up()) {
    return call->ReplyError(EIO);
  }
  (this->*op)(std::move(call));
}

FuseSession::Op FuseSession::OpFor(uint32_t opcode) {
  switch (opcode) {
    case FUSE_INIT:
      return &FuseSession::Init;
    case FUSE_DESTROY:
      return &FuseSession::Destroy;
    case FUSE_LOOKUP:
      return &FuseSession::Lookup;
    case FUSE_FORGET:
      return &FuseSession::Forget;
    case FUSE_BATCH_FORGET:
      return &FuseSession::BatchForget;
    case FUSE_GETATTR:
      return &FuseSession::Getattr;
    case FUSE_SETATTR:
      return &FuseSession::Setattr;
    case FUSE_READLINK:
      return &FuseSession::Readlink;
    case FUSE_SYMLINK:
      return &FuseSession::Symlink;
    case FUSE_MKNOD:
      return &FuseSession::Mknod;
    case FUSE_MKDIR:
      return &FuseSession::Mkdir;
    case FUSE_UNLINK:
      return &FuseSession::Unlink;
    case FUSE_RMDIR:
      return &FuseSession::Rmdir;
    case FUSE_RENAME:
      return &FuseSession::Rename;
    case FUSE_RENAME2:
      return &FuseSession::Rename2;
    case FUSE_LINK:
      return &FuseSession::Link;
    case FUSE_OPEN:
      return &FuseSession::Open;
    case FUSE_CREATE:
      return &FuseSession::Create;
    case FUSE_TMPFILE:
      return &FuseSession::Tmpfile;
    case FUSE_READ:
      return &FuseSession::Read;
    case FUSE_WRITE:
      return &FuseSession::Write;
    case FUSE_STATFS:
      return &FuseSession::Statfs;
    case FUSE_RELEASE:
      return &FuseSession::Release;
    case FUSE_FLUSH:
      return &FuseSession::Flush;
    case FUSE_FSYNC:
      return &FuseSession::Fsync;
    case FUSE_OPENDIR:
      return &FuseSession::Opendir;
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
      return &FuseSession::Readdir;
    case FUSE_RELEASEDIR:
      return &FuseSession::Releasedir;
    case FUSE_FSYNCDIR:
      return &FuseSession::Fsyncdir;
    case FUSE_ACCESS:
      return &FuseSession::Access;
    case FUSE_SETXATTR:
      return &FuseSession::Setxattr;
    case FUSE_GETXATTR:
      return &FuseSession::Getxattr;
    case FUSE_LISTXATTR:
      return &FuseSession::Listxattr;
    case FUSE_REMOVEXATTR:
      return &FuseSession::Removexattr;
    case FUSE_FALLOCATE:
      return &FuseSession::Fallocate;
    case FUSE_LSEEK:
      return &FuseSession::Lseek;
    case FUSE_COPY_FILE_RANGE:
      return &FuseSession::CopyFileRange;
    case FUSE_SYNCFS:
      return &FuseSession::Syncfs;
    case FUSE_GETLK:
      return &FuseSession::Getlk;
    case FUSE_SETLK:
    case FUSE_SETLKW:
      return &FuseSession::Setlk;
    case FUSE_INTERRUPT:
      return &FuseSession::Interrupt;
    default:
      return nullptr;  // BMAP, IOCTL, POLL, NOTIFY_REPLY, DAX mappings: ENOSYS.
  }
}

proto::Request FuseSession::NewRequest(const Call& call, uint32_t umask) const {
  proto::Request request;
  proto::Caller* caller = request.mutable_caller();
  caller->set_uid(call.in.uid);
  caller->set_gid(call.in.gid);
  caller->set_pid(call.in.pid);
  caller->set_umask(umask);
  return request;
}

std::optional<uint64_t> FuseSession::Forward(std::unique_ptr<Call> call, proto::Request request,
                                             OnReply on_reply) {
  // If Submit() fails, the callback (and the call it owns) is destroyed unrun, and
  // ~Call answers EIO.
  absl::StatusOr<uint64_t> sent =
      broker_.Submit(std::move(request), [call = std::move(call), on_reply = std::move(on_reply)](
                                             absl::StatusOr<BrokerResponse> response) mutable {
        if (!response.ok()) {
          // The channel has ended: BrokerClient logged why, once.
          VFSD_LOG(kDebug, "broker: %s", response.status().message());
          return call->ReplyError(EIO);
        }
        if (response->reply.error() != 0) return call->ReplyError(response->reply.error());
        on_reply(*call, *response);
      });
  if (!sent.ok()) {
    if (absl::IsUnavailable(sent.status())) {
      VFSD_LOG(kDebug, "broker: %s", sent.status().message());  // logged once, at its end
    } else {
      VFSD_LOG(kError, "broker: %s", sent.status().message());
    }
    return std::nullopt;
  }
  return *sent;
}

void FuseSession::ForwardEmpty(std::unique_ptr<Call> call, proto::Request request) {
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse&) { call.Reply(0); });
}

void FuseSession::ForwardEntry(std::unique_ptr<Call> call, proto::Request request) {
  Forward(std::move(call), std::move(request), [this](Call& call, BrokerResponse& response) {
    call.Reply(0, {Bytes(ToEntryOut(response.reply.entry(), timeout_))});
  });
}

void FuseSession::ForwardAttr(std::unique_ptr<Call> call, proto::Request request) {
  Forward(std::move(call), std::move(request), [this](Call& call, BrokerResponse& response) {
    fuse_attr_out out{};
    out.attr_valid = timeout_;
    out.attr = ToFuseAttr(response.reply.attr().attr());
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::ForwardXattr(std::unique_ptr<Call> call, proto::Request request, bool size_only) {
  Forward(std::move(call), std::move(request), [size_only](Call& call, BrokerResponse& response) {
    const proto::XattrReply& xattr = response.reply.xattr();
    if (!size_only) return call.Reply(0, {xattr.value()});
    fuse_getxattr_out out{};
    out.size = xattr.size();
    call.Reply(0, {Bytes(out)});
  });
}

fuse_open_out FuseSession::OpenOut(uint64_t handle, uint32_t broker_flags) const {
  fuse_open_out out{};
  out.fh = handle;
  out.open_flags = broker_flags;
  if (options_.cache == CachePolicy::kNever || options_.cache == CachePolicy::kMetadata) {
    out.open_flags |= FOPEN_DIRECT_IO;
  } else if (options_.cache == CachePolicy::kAlways) {
    out.open_flags |= FOPEN_KEEP_CACHE;
  }
  return out;
}

void FuseSession::ReplyCreated(Call& call, BrokerResponse& response) {
  const proto::CreateReply& create = response.reply.create();
  open_files_.Insert(create.handle(), std::move(response.fd), create.entry().node(),
                     create.kill_priv_on_write());
  call.Reply(0, {Bytes(ToEntryOut(create.entry(), timeout_)),
                 Bytes(OpenOut(create.handle(), create.open_flags()))});
}

void FuseSession::Init(std::unique_ptr<Call> call) {
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
  uint64_t offered = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_ASYNC_DIO |
                     FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_INIT_EXT;
  // The broker holds OFD locks per lock owner and flock()s, and waits without
  // blocking other requests.
  offered |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
  if (options_.cache == CachePolicy::kAuto) offered |= FUSE_AUTO_INVAL_DATA;
  if (options_.readdirplus) offered |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
  if (options_.writeback) offered |= FUSE_WRITEBACK_CACHE;
  if (options_.announce_submounts) offered |= FUSE_SUBMOUNTS;
  if (options_.killpriv_v2) offered |= FUSE_HANDLE_KILLPRIV_V2;
  if (options_.posix_acl) offered |= FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;
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
  // A repeated INIT (a rebooted guest that sent no DESTROY) starts a new session.
  if (initialized()) {
    open_files_.Clear();
    InterruptAtBroker(lock_waits_.EndAll());
    proto::Request destroy = NewRequest(*call);
    destroy.mutable_destroy();
    absl::StatusOr<BrokerResponse> reset = broker_.Call(std::move(destroy));
    if (!reset.ok() || reset->reply.error() != 0) {
      VFSD_LOG(kError, "broker did not end the previous session");
      return call->ReplyError(EIO);
    }
  }
  setxattr_ext_.store(negotiated & FUSE_SETXATTR_EXT, std::memory_order_relaxed);
  // Linux 6.1 (7.37) and later clear S_ISGID of new files themselves (since 6.0),
  // knowing all of the caller's groups.
  guest_strips_setgid_.store(in.minor >= 37, std::memory_order_relaxed);
  initialized_.store(true, std::memory_order_release);
  VFSD_LOG(kInfo, "FUSE session up: guest protocol 7.%u, flags 0x%llx", in.minor,
           static_cast<unsigned long long>(negotiated));
  call->Reply(0, {Bytes(out)});
}

void FuseSession::Destroy(std::unique_ptr<Call> call) {
  open_files_.Clear();
  InterruptAtBroker(lock_waits_.EndAll());
  initialized_.store(false, std::memory_order_release);
  proto::Request request = NewRequest(*call);
  request.mutable_destroy();
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Lookup(std::unique_ptr<Call> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("LOOKUP without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_lookup()->set_parent(call->in.nodeid);
  request.mutable_lookup()->set_name(std::string(*name));
  ForwardEntry(std::move(call), std::move(request));
}

void FuseSession::Forget(std::unique_ptr<Call> call) {
  fuse_forget_in in;
  if (call->Arg(in)) {
    proto::Request request;
    request.mutable_forget()->set_node(call->in.nodeid);
    request.mutable_forget()->set_nlookup(in.nlookup);
    (void)broker_.SendOneWay(std::move(request));
  }
  call->NoReply();
}

void FuseSession::BatchForget(std::unique_ptr<Call> call) {
  fuse_batch_forget_in in;
  if (!call->Arg(in) || call->Rest().size() / sizeof(fuse_forget_one) < in.count) {
    VFSD_LOG(kWarn, "malformed BATCH_FORGET ignored");
    return call->NoReply();
  }
  proto::Request request;
  for (uint32_t i = 0; i < in.count; ++i) {
    fuse_forget_one one;
    call->Arg(one);
    proto::ForgetRequest* forget = request.mutable_batch_forget()->add_forgets();
    forget->set_node(one.nodeid);
    forget->set_nlookup(one.nlookup);
    if (request.batch_forget().forgets_size() == static_cast<int>(kForgetsPerFrame) ||
        i + 1 == in.count) {
      (void)broker_.SendOneWay(std::move(request));
      request = proto::Request();
    }
  }
  call->NoReply();
}

void FuseSession::Getattr(std::unique_ptr<Call> call) {
  fuse_getattr_in in;
  if (!call->Arg(in)) return call->Malformed("short GETATTR");
  proto::Request request = NewRequest(*call);
  request.mutable_getattr()->set_node(call->in.nodeid);
  if (in.getattr_flags & FUSE_GETATTR_FH) request.mutable_getattr()->set_handle(in.fh);
  ForwardAttr(std::move(call), std::move(request));
}

void FuseSession::Setattr(std::unique_ptr<Call> call) {
  fuse_setattr_in in;
  if (!call->Arg(in)) return call->Malformed("short SETATTR");
  proto::Request request = NewRequest(*call);
  proto::SetattrRequest* setattr = request.mutable_setattr();
  setattr->set_node(call->in.nodeid);
  setattr->set_valid(in.valid);
  if (in.valid & FATTR_FH) setattr->set_handle(in.fh);
  setattr->set_size(in.size);
  setattr->set_atime(static_cast<int64_t>(in.atime));
  setattr->set_mtime(static_cast<int64_t>(in.mtime));
  setattr->set_ctime(static_cast<int64_t>(in.ctime));
  setattr->set_atime_nsec(in.atimensec);
  setattr->set_mtime_nsec(in.mtimensec);
  setattr->set_ctime_nsec(in.ctimensec);
  setattr->set_mode(in.mode);
  setattr->set_uid(in.uid);
  setattr->set_gid(in.gid);
  ForwardAttr(std::move(call), std::move(request));
}

void FuseSession::Readlink(std::unique_ptr<Call> call) {
  proto::Request request = NewRequest(*call);
  request.mutable_readlink()->set_node(call->in.nodeid);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    call.Reply(0, {response.reply.readlink().target()});
  });
}

void FuseSession::Symlink(std::unique_ptr<Call> call) {
  std::optional<std::string_view> name = call->String();
  std::optional<std::string_view> target = call->String();
  if (!name || !target) return call->Malformed("SYMLINK without name and target");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  if (int err = CheckSymlinkTarget(*target)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  proto::SymlinkRequest* symlink = request.mutable_symlink();
  symlink->set_parent(call->in.nodeid);
  symlink->set_name(std::string(*name));
  symlink->set_target(std::string(*target));
  ForwardEntry(std::move(call), std::move(request));
}

void FuseSession::Mknod(std::unique_ptr<Call> call) {
  fuse_mknod_in in;
  if (!call->Arg(in)) return call->Malformed("short MKNOD");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("MKNOD without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call, in.umask);
  proto::MknodRequest* mknod = request.mutable_mknod();
  mknod->set_parent(call->in.nodeid);
  mknod->set_name(std::string(*name));
  mknod->set_mode(in.mode);
  mknod->set_rdev(in.rdev);
  mknod->set_guest_strips_setgid(guest_strips_setgid_.load(std::memory_order_relaxed));
  ForwardEntry(std::move(call), std::move(request));
}

void FuseSession::Mkdir(std::unique_ptr<Call> call) {
  fuse_mkdir_in in;
  if (!call->Arg(in)) return call->Malformed("short MKDIR");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("MKDIR without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call, in.umask);
  request.mutable_mkdir()->set_parent(call->in.nodeid);
  request.mutable_mkdir()->set_name(std::string(*name));
  request.mutable_mkdir()->set_mode(in.mode);
  ForwardEntry(std::move(call), std::move(request));
}

void FuseSession::Unlink(std::unique_ptr<Call> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("UNLINK without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_unlink()->set_parent(call->in.nodeid);
  request.mutable_unlink()->set_name(std::string(*name));
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Rmdir(std::unique_ptr<Call> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("RMDIR without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_rmdir()->set_parent(call->in.nodeid);
  request.mutable_rmdir()->set_name(std::string(*name));
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Rename(std::unique_ptr<Call> call) {
  fuse_rename_in in;
  if (!call->Arg(in)) return call->Malformed("short RENAME");
  fuse_rename2_in in2{};
  in2.newdir = in.newdir;
  call->pos = 0;
  call->args.replace(0, sizeof(in), std::string(Bytes(in2)));
  Rename2(std::move(call));
}

void FuseSession::Rename2(std::unique_ptr<Call> call) {
  fuse_rename2_in in;
  if (!call->Arg(in)) return call->Malformed("short RENAME2");
  std::optional<std::string_view> old_name = call->String();
  std::optional<std::string_view> new_name = call->String();
  if (!old_name || !new_name) return call->Malformed("RENAME without both names");
  if (int err = CheckEntryName(*old_name)) return call->ReplyError(err);
  if (int err = CheckEntryName(*new_name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  proto::RenameRequest* rename = request.mutable_rename();
  rename->set_old_parent(call->in.nodeid);
  rename->set_old_name(std::string(*old_name));
  rename->set_new_parent(in.newdir);
  rename->set_new_name(std::string(*new_name));
  rename->set_flags(in.flags);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Link(std::unique_ptr<Call> call) {
  fuse_link_in in;
  if (!call->Arg(in)) return call->Malformed("short LINK");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("LINK without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_link()->set_node(in.oldnodeid);
  request.mutable_link()->set_new_parent(call->in.nodeid);
  request.mutable_link()->set_new_name(std::string(*name));
  ForwardEntry(std::move(call), std::move(request));
}

void FuseSession::Open(std::unique_ptr<Call> call) {
  fuse_open_in in;
  if (!call->Arg(in)) return call->Malformed("short OPEN");
  proto::Request request = NewRequest(*call);
  request.mutable_open()->set_node(call->in.nodeid);
  request.mutable_open()->set_flags(in.flags);
  request.mutable_open()->set_open_flags(in.open_flags);
  Forward(std::move(call), std::move(request), [this](Call& call, BrokerResponse& response) {
    const proto::OpenReply& open = response.reply.open();
    open_files_.Insert(open.handle(), std::move(response.fd), call.in.nodeid,
                       open.kill_priv_on_write());
    call.Reply(0, {Bytes(OpenOut(open.handle(), open.open_flags()))});
  });
}

void FuseSession::Create(std::unique_ptr<Call> call) {
  fuse_create_in in;
  if (!call->Arg(in)) return call->Malformed("short CREATE");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("CREATE without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call, in.umask);
  proto::CreateRequest* create = request.mutable_create();
  create->set_parent(call->in.nodeid);
  create->set_name(std::string(*name));
  create->set_mode(in.mode);
  create->set_flags(in.flags);
  create->set_open_flags(in.open_flags);
  create->set_guest_strips_setgid(guest_strips_setgid_.load(std::memory_order_relaxed));
  Forward(std::move(call), std::move(request),
          [this](Call& call, BrokerResponse& response) { ReplyCreated(call, response); });
}

void FuseSession::Tmpfile(std::unique_ptr<Call> call) {
  fuse_create_in in;
  if (!call->Arg(in)) return call->Malformed("short TMPFILE");
  proto::Request request = NewRequest(*call, in.umask);
  request.mutable_tmpfile()->set_parent(call->in.nodeid);
  request.mutable_tmpfile()->set_mode(in.mode);
  request.mutable_tmpfile()->set_flags(in.flags);
  request.mutable_tmpfile()->set_guest_strips_setgid(
      guest_strips_setgid_.load(std::memory_order_relaxed));
  Forward(std::move(call), std::move(request),
          [this](Call& call, BrokerResponse& response) { ReplyCreated(call, response); });
}

void FuseSession::RunIo(std::unique_ptr<Call> call, void (FuseSession::*io)(Call&)) {
  if (pool_ == nullptr) return (this->*io)(*call);
  pool_->Schedule([this, io, call = std::move(call)]() mutable { (this->*io)(*call); });
}

void FuseSession::Read(std::unique_ptr<Call> call) {
  fuse_read_in in;
  if (!call->Arg(in)) return call->Malformed("short READ");
  if (in.size > kMaxIoBytes) return call->Malformed("READ larger than max_pages");
  call->pos = 0;  // DoRead() reads the argument again.
  RunIo(std::move(call), &FuseSession::DoRead);
}

void FuseSession::DoRead(Call& call) {
  fuse_read_in in;
  call.Arg(in);
  std::shared_ptr<const OpenFile> file = open_files_.Get(in.fh);
  if (file == nullptr) return call.ReplyError(EBADF);
  ChainCursor out(call.chain.chain().writable);
  if (out.remaining() < sizeof(fuse_out_header)) return call.Reply(0);  // Reply() drops it.
  IovecList header = out.Take(sizeof(fuse_out_header));
  IovecList data = out.Take(in.size);
  if (data.size() > IOV_MAX) return call.Malformed("READ buffer in too many pieces");
  const ssize_t n = preadv(file->fd.get(), data.data(), static_cast<int>(data.size()),
                           static_cast<off_t>(in.offset));
  if (n < 0) return call.ReplyError(errno);
  fuse_out_header reply{static_cast<uint32_t>(sizeof(fuse_out_header) + n), 0, call.in.unique};
  ChainCursor(header).CopyIn(&reply, sizeof(reply));
  call.done = true;
  call.chain.Complete(reply.len);
}

void FuseSession::Write(std::unique_ptr<Call> call) {
  fuse_write_in in;
  if (!call->Arg(in)) return call->Malformed("short WRITE");
  size_t available = 0;
  for (const iovec& piece : call->write_data) available += piece.iov_len;
  if (in.size > kMaxIoBytes || in.size != available) {
    return call->Malformed(absl::StrCat("WRITE of ", in.size, " bytes carries ", available));
  }
  if (call->write_data.size() > IOV_MAX) return call->Malformed("WRITE data in too many pieces");
  call->pos = 0;  // DoWrite() reads the argument again.
  RunIo(std::move(call), &FuseSession::DoWrite);
}

void FuseSession::DoWrite(Call& call) {
  fuse_write_in in;
  call.Arg(in);
  std::shared_ptr<const OpenFile> file = open_files_.Get(in.fh);
  if (file == nullptr) return call.ReplyError(EBADF);
  if (file->kill_priv.load(std::memory_order_relaxed)) {
    // A remapped security.capability goes before the data, as the kernel clears
    // the real one (CVE-2021-20263); only handles that may carry one ask.
    if (int err = BrokerSetattr(call, *file, in.fh, /*mode=*/std::nullopt)) {
      return call.ReplyError(err);
    }
    file->kill_priv.store(false, std::memory_order_relaxed);
  }
  // The frontend holds no CAP_FSETID, so the kernel clears setuid/setgid bits on
  // every write, as FUSE_WRITE_KILL_SUIDGID asks. A guest root writer (which has
  // CAP_FSETID unless the guest says kill) keeps them: restored after the write.
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
    if (int err = BrokerSetattr(call, *file, in.fh, keep_mode)) {
      VFSD_LOG(kWarn, "set-id bits of node %llu not restored: %s",
               static_cast<unsigned long long>(file->node), strerror(err));
    }
  }
  fuse_write_out out{};
  out.size = static_cast<uint32_t>(n);
  call.Reply(0, {Bytes(out)});
}

int FuseSession::BrokerSetattr(const Call& call, const OpenFile& file, uint64_t handle,
                               std::optional<mode_t> mode) {
  proto::Request request = NewRequest(call);
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
  absl::StatusOr<BrokerResponse> response = broker_.Call(std::move(request));
  if (!response.ok()) return EIO;
  return response->reply.error();
}

void FuseSession::Statfs(std::unique_ptr<Call> call) {
  proto::Request request = NewRequest(*call);
  request.mutable_statfs()->set_node(call->in.nodeid);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    const proto::StatfsReply& st = response.reply.statfs();
    fuse_statfs_out out{};
    out.st.blocks = st.blocks();
    out.st.bfree = st.bfree();
    out.st.bavail = st.bavail();
    out.st.files = st.files();
    out.st.ffree = st.ffree();
    out.st.bsize = st.bsize();
    out.st.namelen = st.namelen();
    out.st.frsize = st.frsize();
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::Release(std::unique_ptr<Call> call) {
  fuse_release_in in;
  if (!call->Arg(in)) return call->Malformed("short RELEASE");
  open_files_.Remove(in.fh);
  proto::Request request = NewRequest(*call);
  request.mutable_release()->set_handle(in.fh);
  request.mutable_release()->set_lock_owner(in.lock_owner);
  request.mutable_release()->set_release_flags(in.release_flags);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Flush(std::unique_ptr<Call> call) {
  fuse_flush_in in;
  if (!call->Arg(in)) return call->Malformed("short FLUSH");
  proto::Request request = NewRequest(*call);
  request.mutable_flush()->set_handle(in.fh);
  request.mutable_flush()->set_lock_owner(in.lock_owner);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Fsync(std::unique_ptr<Call> call) {
  fuse_fsync_in in;
  if (!call->Arg(in)) return call->Malformed("short FSYNC");
  proto::Request request = NewRequest(*call);
  request.mutable_fsync()->set_handle(in.fh);
  request.mutable_fsync()->set_datasync(in.fsync_flags & 1);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Opendir(std::unique_ptr<Call> call) {
  fuse_open_in in;
  if (!call->Arg(in)) return call->Malformed("short OPENDIR");
  proto::Request request = NewRequest(*call);
  request.mutable_opendir()->set_node(call->in.nodeid);
  request.mutable_opendir()->set_flags(in.flags);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    fuse_open_out out{};
    out.fh = response.reply.opendir().handle();
    out.open_flags = response.reply.opendir().open_flags();
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::Readdir(std::unique_ptr<Call> call) {
  fuse_read_in in;
  if (!call->Arg(in)) return call->Malformed("short READDIR");
  const bool plus = call->in.opcode == FUSE_READDIRPLUS;
  const uint64_t room = call->chain.chain().writable_bytes;
  if (room < sizeof(fuse_out_header)) return call->Reply(0);  // Dropped by Reply().
  const uint32_t max_bytes = static_cast<uint32_t>(
      std::min<uint64_t>({in.size, room - sizeof(fuse_out_header), kMaxIoBytes}));
  proto::Request request = NewRequest(*call);
  proto::ReaddirRequest* readdir = request.mutable_readdir();
  readdir->set_handle(in.fh);
  readdir->set_offset(in.offset);
  readdir->set_max_bytes(max_bytes);
  readdir->set_plus(plus);
  Forward(std::move(call), std::move(request),
          [this, plus, max_bytes](Call& call, BrokerResponse& response) {
            std::string out;
            for (const proto::DirEntry& entry : response.reply.readdir().entries()) {
              if (AppendDirent(entry, plus, timeout_, max_bytes, out)) continue;
              // The broker took a lookup for an entry the guest will never see.
              if (plus && entry.entry().node() != 0) {
                proto::Request forget;
                forget.mutable_forget()->set_node(entry.entry().node());
                forget.mutable_forget()->set_nlookup(1);
                (void)broker_.SendOneWay(std::move(forget));
              }
            }
            call.Reply(0, {out});
          });
}

void FuseSession::Releasedir(std::unique_ptr<Call> call) {
  fuse_release_in in;
  if (!call->Arg(in)) return call->Malformed("short RELEASEDIR");
  proto::Request request = NewRequest(*call);
  request.mutable_releasedir()->set_handle(in.fh);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Fsyncdir(std::unique_ptr<Call> call) {
  fuse_fsync_in in;
  if (!call->Arg(in)) return call->Malformed("short FSYNCDIR");
  proto::Request request = NewRequest(*call);
  request.mutable_fsyncdir()->set_handle(in.fh);
  request.mutable_fsyncdir()->set_datasync(in.fsync_flags & 1);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Access(std::unique_ptr<Call> call) {
  fuse_access_in in;
  if (!call->Arg(in)) return call->Malformed("short ACCESS");
  proto::Request request = NewRequest(*call);
  request.mutable_access()->set_node(call->in.nodeid);
  request.mutable_access()->set_mask(in.mask);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Setxattr(std::unique_ptr<Call> call) {
  fuse_setxattr_in in;
  const size_t size =
      setxattr_ext_.load(std::memory_order_relaxed) ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE;
  if (!call->Arg(in, size)) return call->Malformed("short SETXATTR");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("SETXATTR without a name");
  if (call->Rest().size() != in.size) return call->Malformed("SETXATTR value size mismatch");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  proto::SetxattrRequest* setxattr = request.mutable_setxattr();
  setxattr->set_node(call->in.nodeid);
  setxattr->set_name(std::string(*name));
  setxattr->set_value(std::string(call->Rest()));
  setxattr->set_flags(in.flags);
  setxattr->set_setxattr_flags(in.setxattr_flags);
  if (*name != "security.capability") return ForwardEmpty(std::move(call), std::move(request));
  // Writes through files already open must remove a remapped copy (--xattrmap).
  Forward(std::move(call), std::move(request), [this](Call& call, BrokerResponse&) {
    open_files_.NeedKillPriv(call.in.nodeid);
    call.Reply(0);
  });
}

void FuseSession::Getxattr(std::unique_ptr<Call> call) {
  fuse_getxattr_in in;
  if (!call->Arg(in)) return call->Malformed("short GETXATTR");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("GETXATTR without a name");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_getxattr()->set_node(call->in.nodeid);
  request.mutable_getxattr()->set_name(std::string(*name));
  request.mutable_getxattr()->set_size(in.size);
  const bool size_only = in.size == 0;
  ForwardXattr(std::move(call), std::move(request), size_only);
}

void FuseSession::Listxattr(std::unique_ptr<Call> call) {
  fuse_getxattr_in in;
  if (!call->Arg(in)) return call->Malformed("short LISTXATTR");
  proto::Request request = NewRequest(*call);
  request.mutable_listxattr()->set_node(call->in.nodeid);
  request.mutable_listxattr()->set_size(in.size);
  const bool size_only = in.size == 0;
  ForwardXattr(std::move(call), std::move(request), size_only);
}

void FuseSession::Removexattr(std::unique_ptr<Call> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("REMOVEXATTR without a name");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = NewRequest(*call);
  request.mutable_removexattr()->set_node(call->in.nodeid);
  request.mutable_removexattr()->set_name(std::string(*name));
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Fallocate(std::unique_ptr<Call> call) {
  fuse_fallocate_in in;
  if (!call->Arg(in)) return call->Malformed("short FALLOCATE");
  proto::Request request = NewRequest(*call);
  proto::FallocateRequest* fallocate = request.mutable_fallocate();
  fallocate->set_handle(in.fh);
  fallocate->set_mode(in.mode);
  fallocate->set_offset(in.offset);
  fallocate->set_length(in.length);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Lseek(std::unique_ptr<Call> call) {
  fuse_lseek_in in;
  if (!call->Arg(in)) return call->Malformed("short LSEEK");
  proto::Request request = NewRequest(*call);
  request.mutable_lseek()->set_handle(in.fh);
  request.mutable_lseek()->set_offset(static_cast<int64_t>(in.offset));
  request.mutable_lseek()->set_whence(in.whence);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    fuse_lseek_out out{};
    out.offset = response.reply.lseek().offset();
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::CopyFileRange(std::unique_ptr<Call> call) {
  fuse_copy_file_range_in in;
  if (!call->Arg(in)) return call->Malformed("short COPY_FILE_RANGE");
  proto::Request request = NewRequest(*call);
  proto::CopyFileRangeRequest* copy = request.mutable_copy_file_range();
  copy->set_handle_in(in.fh_in);
  copy->set_offset_in(in.off_in);
  copy->set_handle_out(in.fh_out);
  copy->set_offset_out(in.off_out);
  copy->set_length(in.len);
  copy->set_flags(in.flags);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    fuse_write_out out{};
    out.size = static_cast<uint32_t>(
        std::min<uint64_t>(response.reply.copy_file_range().size(), UINT32_MAX));
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::Syncfs(std::unique_ptr<Call> call) {
  proto::Request request = NewRequest(*call);
  request.mutable_syncfs()->set_node(call->in.nodeid);
  ForwardEmpty(std::move(call), std::move(request));
}

void FuseSession::Getlk(std::unique_ptr<Call> call) {
  fuse_lk_in in;
  if (!call->Arg(in)) return call->Malformed("short GETLK");
  proto::Request request = NewRequest(*call);
  proto::GetlkRequest* getlk = request.mutable_getlk();
  getlk->set_handle(in.fh);
  getlk->set_lock_owner(in.owner);
  getlk->mutable_lock()->set_start(in.lk.start);
  getlk->mutable_lock()->set_end(in.lk.end);
  getlk->mutable_lock()->set_type(in.lk.type);
  getlk->mutable_lock()->set_pid(in.lk.pid);
  Forward(std::move(call), std::move(request), [](Call& call, BrokerResponse& response) {
    const proto::FileLock& lock = response.reply.getlk().lock();
    fuse_lk_out out{};
    out.lk.start = lock.start();
    out.lk.end = lock.end();
    out.lk.type = lock.type();
    out.lk.pid = lock.pid();
    call.Reply(0, {Bytes(out)});
  });
}

void FuseSession::Setlk(std::unique_ptr<Call> call) {
  fuse_lk_in in;
  if (!call->Arg(in)) return call->Malformed("short SETLK");
  proto::Request request = NewRequest(*call);
  proto::SetlkRequest* setlk = request.mutable_setlk();
  setlk->set_handle(in.fh);
  setlk->set_lock_owner(in.owner);
  setlk->mutable_lock()->set_start(in.lk.start);
  setlk->mutable_lock()->set_end(in.lk.end);
  setlk->mutable_lock()->set_type(in.lk.type);
  setlk->mutable_lock()->set_pid(in.lk.pid);
  const bool wait = call->in.opcode == FUSE_SETLKW;
  setlk->set_wait(wait);
  setlk->set_flock(in.lk_flags & FUSE_LK_FLOCK);
  if (!wait) return ForwardEmpty(std::move(call), std::move(request));
  // A waiting lock can be ended early: remember which broker request serves it.
  std::optional<uint64_t> token = lock_waits_.Begin(call->in.unique, call->chain.queue_index());
  if (!token.has_value()) return call->ReplyError(ENOLCK);  // as the broker's own limit
  call->on_end = [this, token = *token] { lock_waits_.End(token); };
  std::optional<uint64_t> id = Forward(std::move(call), std::move(request),
                                       [](Call& call, BrokerResponse&) { call.Reply(0); });
  if (id.has_value() && lock_waits_.Attach(*token, *id)) InterruptAtBroker({*id});
}

void FuseSession::QueueStopping(int queue) { InterruptAtBroker(lock_waits_.EndQueue(queue)); }

void FuseSession::InterruptAtBroker(const std::vector<uint64_t>& broker_ids) {
  for (uint64_t id : broker_ids) {
    proto::Request request;
    request.mutable_interrupt()->set_target_id(id);
    (void)broker_.SendOneWay(std::move(request));
  }
}

void FuseSession::Interrupt(std::unique_ptr<Call> call) {
  // Only lock waits can take long; other requests finish on their own, so their
  // interrupts are ignored, as FUSE allows. INTERRUPT itself gets no reply.
  fuse_interrupt_in in;
  if (call->Arg(in)) {
    if (std::optional<uint64_t> target = lock_waits_.Interrupt(in.unique)) {
      InterruptAtBroker({*target});
    }
  }
  call->NoReply();
}

}  // namespace virtiofsd
