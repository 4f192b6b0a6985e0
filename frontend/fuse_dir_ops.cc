#include "frontend/fuse_dir_ops.h"

#include <linux/fuse.h>

#include <algorithm>
#include <string>

#include "common/logging.h"
#include "frontend/fuse_encode.h"

namespace virtiofsd::fuse_op {

void Opendir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_open_in in;
  if (!call->Arg(in)) return call->Malformed("short OPENDIR");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_opendir()->set_node(call->in.nodeid);
  request.mutable_opendir()->set_flags(in.flags);
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
                    fuse_open_out out{};
                    out.fh = response.reply.opendir().handle();
                    out.open_flags = response.reply.opendir().open_flags();
                    call.Reply(0, {Bytes(out)});
                  });
}

void Readdir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_read_in in;
  if (!call->Arg(in)) return call->Malformed("short READDIR");
  const bool plus = call->in.opcode == FUSE_READDIRPLUS;
  const uint64_t room = call->chain.chain().writable_bytes;
  if (room < sizeof(fuse_out_header)) return call->Reply(0);  // Dropped by Reply().
  const uint32_t max_bytes = static_cast<uint32_t>(
      std::min<uint64_t>({in.size, room - sizeof(fuse_out_header), kMaxIoBytes}));
  proto::Request request = FuseContext::NewRequest(*call);
  proto::ReaddirRequest* readdir = request.mutable_readdir();
  readdir->set_handle(in.fh);
  readdir->set_offset(in.offset);
  readdir->set_max_bytes(max_bytes);
  readdir->set_plus(plus);
  readdir->set_entry_bytes(plus ? sizeof(fuse_direntplus) : sizeof(fuse_dirent));
  readdir->set_name_alignment(FUSE_DIRENT_ALIGN(1));
  const uint64_t timeout = context.timeout();
  context.Forward(std::move(call), std::move(request),
                  [plus, max_bytes, timeout](FuseCall& call, BrokerResponse& response) {
                    const auto& entries = response.reply.readdir().entries();
                    std::string out;
                    int packed = 0;
                    while (packed < entries.size() &&
                           AppendDirent(entries[packed], plus, timeout, max_bytes, out)) {
                      ++packed;
                    }
                    if (packed < entries.size()) {
                      VFSD_LOG(kWarn,
                               "broker: READDIR reply holds %d entries, %d of them past what "
                               "fits in %u bytes; dropped",
                               entries.size(), entries.size() - packed, max_bytes);
                    }
                    call.Reply(0, {out});
                  });
}

void Releasedir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_release_in in;
  if (!call->Arg(in)) return call->Malformed("short RELEASEDIR");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_releasedir()->set_handle(in.fh);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Fsyncdir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_fsync_in in;
  if (!call->Arg(in)) return call->Malformed("short FSYNCDIR");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_fsyncdir()->set_handle(in.fh);
  request.mutable_fsyncdir()->set_datasync(in.fsync_flags & 1);
  context.ForwardEmpty(std::move(call), std::move(request));
}

}  // namespace virtiofsd::fuse_op
