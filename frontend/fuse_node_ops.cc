#include "frontend/fuse_node_ops.h"

#include <linux/fuse.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/fs_names.h"
#include "common/logging.h"

namespace virtiofsd::fuse_op {

void Lookup(FuseContext& context, std::unique_ptr<FuseCall> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("LOOKUP without a name");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_lookup()->set_parent(call->in.nodeid);
  request.mutable_lookup()->set_name(std::string(*name));
  context.ForwardEntry(std::move(call), std::move(request));
}

void Forget(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_forget_in in;
  if (call->Arg(in)) {
    proto::Request request;
    request.mutable_forget()->set_node(call->in.nodeid);
    request.mutable_forget()->set_nlookup(in.nlookup);
    context.SendOneWay(std::move(request));
  }
  call->NoReply();
}

void BatchForget(FuseContext& context, std::unique_ptr<FuseCall> call) {
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
      context.SendOneWay(std::move(request));
      request = proto::Request();
    }
  }
  call->NoReply();
}

void Getattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_getattr_in in;
  if (!call->Arg(in)) return call->Malformed("short GETATTR");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_getattr()->set_node(call->in.nodeid);
  if (in.getattr_flags & FUSE_GETATTR_FH) request.mutable_getattr()->set_handle(in.fh);
  context.ForwardAttr(std::move(call), std::move(request));
}

void Setattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_setattr_in in;
  if (!call->Arg(in)) return call->Malformed("short SETATTR");
  proto::Request request = FuseContext::NewRequest(*call);
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
  context.ForwardAttr(std::move(call), std::move(request));
}

void Readlink(FuseContext& context, std::unique_ptr<FuseCall> call) {
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_readlink()->set_node(call->in.nodeid);
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
                    call.Reply(0, {response.reply.readlink().target()});
                  });
}

void Statfs(FuseContext& context, std::unique_ptr<FuseCall> call) {
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_statfs()->set_node(call->in.nodeid);
  context.Forward(std::move(call), std::move(request),
                  [](FuseCall& call, BrokerResponse& response) {
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

void Access(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_access_in in;
  if (!call->Arg(in)) return call->Malformed("short ACCESS");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_access()->set_node(call->in.nodeid);
  request.mutable_access()->set_mask(in.mask);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Syncfs(FuseContext& context, std::unique_ptr<FuseCall> call) {
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_syncfs()->set_node(call->in.nodeid);
  context.ForwardEmpty(std::move(call), std::move(request));
}

}  // namespace virtiofsd::fuse_op
