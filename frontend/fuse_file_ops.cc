#include "frontend/fuse_file_ops.h"

#include <linux/fuse.h>
#include <stdint.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "common/fs_names.h"
#include "frontend/fuse_encode.h"

namespace virtiofsd::fuse_op {
namespace {

// CREATE/TMPFILE: records the new file's fd and answers entry + open.
void ReplyCreated(FuseContext& context, FuseCall& call, BrokerResponse& response) {
  const proto::CreateReply& create = response.reply.create();
  context.open_files().Insert(create.handle(), std::move(response.fd), create.entry().node(),
                              create.kill_priv_on_write());
  call.Reply(0, {Bytes(ToEntryOut(create.entry(), context.timeout())),
                 Bytes(context.OpenOut(create.handle(), create.open_flags()))});
}

bool GuestStripsSetgid(const FuseContext& context) {
  return context.guest_strips_setgid.load(std::memory_order_relaxed);
}

}  // namespace

void Open(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_open_in in;
  if (!call->Arg(in)) return call->Malformed("short OPEN");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_open()->set_node(call->in.nodeid);
  request.mutable_open()->set_flags(in.flags);
  request.mutable_open()->set_open_flags(in.open_flags);
  context.Forward(std::move(call), std::move(request),
                  [&context](FuseCall& call, BrokerResponse& response) {
                    const proto::OpenReply& open = response.reply.open();
                    context.open_files().Insert(open.handle(), std::move(response.fd),
                                                call.in.nodeid, open.kill_priv_on_write());
                    call.Reply(0, {Bytes(context.OpenOut(open.handle(), open.open_flags()))});
                  });
}

void Create(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_create_in in;
  if (!call->Arg(in)) return call->Malformed("short CREATE");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("CREATE without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call, in.umask);
  proto::CreateRequest* create = request.mutable_create();
  create->set_parent(call->in.nodeid);
  create->set_name(std::string(*name));
  create->set_mode(in.mode);
  create->set_flags(in.flags);
  create->set_open_flags(in.open_flags);
  create->set_guest_strips_setgid(GuestStripsSetgid(context));
  context.Forward(std::move(call), std::move(request),
                  [&context](FuseCall& call, BrokerResponse& response) {
                    ReplyCreated(context, call, response);
                  });
}

void Tmpfile(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_create_in in;
  if (!call->Arg(in)) return call->Malformed("short TMPFILE");
  proto::Request request = FuseContext::NewRequest(*call, in.umask);
  proto::TmpfileRequest* tmpfile = request.mutable_tmpfile();
  tmpfile->set_parent(call->in.nodeid);
  tmpfile->set_mode(in.mode);
  tmpfile->set_flags(in.flags);
  tmpfile->set_guest_strips_setgid(GuestStripsSetgid(context));
  context.Forward(std::move(call), std::move(request),
                  [&context](FuseCall& call, BrokerResponse& response) {
                    ReplyCreated(context, call, response);
                  });
}

void Release(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_release_in in;
  if (!call->Arg(in)) return call->Malformed("short RELEASE");
  context.open_files().Remove(in.fh);
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_release()->set_handle(in.fh);
  request.mutable_release()->set_lock_owner(in.lock_owner);
  request.mutable_release()->set_release_flags(in.release_flags);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Flush(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_flush_in in;
  if (!call->Arg(in)) return call->Malformed("short FLUSH");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_flush()->set_handle(in.fh);
  request.mutable_flush()->set_lock_owner(in.lock_owner);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Fsync(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_fsync_in in;
  if (!call->Arg(in)) return call->Malformed("short FSYNC");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_fsync()->set_handle(in.fh);
  request.mutable_fsync()->set_datasync(in.fsync_flags & 1);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Fallocate(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_fallocate_in in;
  if (!call->Arg(in)) return call->Malformed("short FALLOCATE");
  proto::Request request = FuseContext::NewRequest(*call);
  proto::FallocateRequest* fallocate = request.mutable_fallocate();
  fallocate->set_handle(in.fh);
  fallocate->set_mode(in.mode);
  fallocate->set_offset(in.offset);
  fallocate->set_length(in.length);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Lseek(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_lseek_in in;
  if (!call->Arg(in)) return call->Malformed("short LSEEK");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_lseek()->set_handle(in.fh);
  request.mutable_lseek()->set_offset(static_cast<int64_t>(in.offset));
  request.mutable_lseek()->set_whence(in.whence);
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
                    fuse_lseek_out out{};
                    out.offset = response.reply.lseek().offset();
                    call.Reply(0, {Bytes(out)});
                  });
}

void CopyFileRange(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_copy_file_range_in in;
  if (!call->Arg(in)) return call->Malformed("short COPY_FILE_RANGE");
  proto::Request request = FuseContext::NewRequest(*call);
  proto::CopyFileRangeRequest* copy = request.mutable_copy_file_range();
  copy->set_handle_in(in.fh_in);
  copy->set_offset_in(in.off_in);
  copy->set_handle_out(in.fh_out);
  copy->set_offset_out(in.off_out);
  copy->set_length(in.len);
  copy->set_flags(in.flags);
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
                    fuse_write_out out{};
                    out.size = static_cast<uint32_t>(
                        std::min<uint64_t>(response.reply.copy_file_range().size(), UINT32_MAX));
                    call.Reply(0, {Bytes(out)});
                  });
}

}  // namespace virtiofsd::fuse_op
