#include "frontend/fuse_call.h"

#include <errno.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace virtiofsd {

std::unique_ptr<FuseCall> FuseCall::Decode(PendingChain pending) {
  ChainCursor in(pending.chain().readable);
  fuse_in_header header;
  if (in.CopyOut(&header, sizeof(header)) != sizeof(header)) {
    VFSD_LOG(kWarn, "queue %d: chain without a FUSE header; dropped", pending.queue_index());
    return nullptr;  // PendingChain completes with nothing written.
  }
  auto call = std::make_unique<FuseCall>(std::move(pending), header);
  if (header.len != call->chain.chain().readable_bytes) {
    call->Malformed(absl::StrCat("header length ", header.len, " but the chain holds ",
                                 call->chain.chain().readable_bytes, " bytes"));
    return nullptr;
  }
  size_t arg_bytes = in.remaining();
  if (header.opcode == FUSE_WRITE) arg_bytes = std::min(arg_bytes, sizeof(fuse_write_in));
  if (arg_bytes > kMaxArgBytes) {
    call->Malformed("arguments too long");
    return nullptr;
  }
  call->args.resize(arg_bytes);
  in.CopyOut(call->args.data(), arg_bytes);
  if (header.opcode == FUSE_WRITE) call->write_data = in.Take(in.remaining());
  return call;
}

FuseCall::~FuseCall() {
  if (!done) ReplyError(EIO);
}

void FuseCall::Finish(uint32_t written) {
  done = true;
  if (on_end) std::exchange(on_end, nullptr)();
  chain.Complete(written);
}

std::optional<std::string_view> FuseCall::String() {
  const size_t end = args.find('\0', pos);
  if (end == std::string::npos) return std::nullopt;
  std::string_view s(args.data() + pos, end - pos);
  pos = end + 1;
  return s;
}

void FuseCall::Reply(int error, std::initializer_list<std::string_view> parts) {
  ChainCursor out(chain.chain().writable);
  size_t payload = 0;
  if (error == 0) {
    for (std::string_view part : parts) payload += part.size();
  }
  if (out.remaining() < sizeof(fuse_out_header)) {
    VFSD_LOG(kWarn, "FUSE request %llu (opcode %u): no room for a reply; dropped",
             static_cast<unsigned long long>(in.unique), in.opcode);
    Finish(0);
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
  Finish(header.len);
}

void FuseCall::NoReply() { Finish(0); }

void FuseCall::Malformed(std::string_view what) {
  VFSD_LOG(kWarn, "FUSE request %llu (opcode %u): %s", static_cast<unsigned long long>(in.unique),
           in.opcode, std::string(what));
  ReplyError(EINVAL);
}

void FuseCall::ReplyWritten(const IovecList& header, size_t data_bytes) {
  fuse_out_header reply{static_cast<uint32_t>(sizeof(fuse_out_header) + data_bytes), 0, in.unique};
  ChainCursor(header).CopyIn(&reply, sizeof(reply));
  Finish(reply.len);
}

}  // namespace virtiofsd
