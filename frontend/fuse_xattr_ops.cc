#include "frontend/fuse_xattr_ops.h"

#include <linux/fuse.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/fs_names.h"

namespace virtiofsd::fuse_op {
namespace {

// Getxattr/Listxattr: the bytes, or only their size when the guest asked for it.
void ForwardXattr(FuseContext& context, std::unique_ptr<FuseCall> call, proto::Request request,
                  bool size_only) {
  context.Forward(std::move(call), std::move(request),
                  [size_only](FuseCall& call, BrokerResponse& response) {
                    const proto::XattrReply& xattr = response.reply.xattr();
                    if (!size_only) return call.Reply(0, {xattr.value()});
                    fuse_getxattr_out out{};
                    out.size = xattr.size();
                    call.Reply(0, {Bytes(out)});
                  });
}

}  // namespace

void Setxattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_setxattr_in in;
  const size_t size = context.setxattr_ext.load(std::memory_order_relaxed)
                          ? sizeof(in)
                          : FUSE_COMPAT_SETXATTR_IN_SIZE;
  if (!call->Arg(in, size)) return call->Malformed("short SETXATTR");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("SETXATTR without a name");
  if (call->Rest().size() != in.size) return call->Malformed("SETXATTR value size mismatch");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  proto::SetxattrRequest* setxattr = request.mutable_setxattr();
  setxattr->set_node(call->in.nodeid);
  setxattr->set_name(std::string(*name));
  setxattr->set_value(std::string(call->Rest()));
  setxattr->set_flags(in.flags);
  setxattr->set_setxattr_flags(in.setxattr_flags);
  if (*name != "security.capability") {
    return context.ForwardEmpty(std::move(call), std::move(request));
  }
  // Writes through files already open must remove a remapped copy (--xattrmap).
  context.Forward(std::move(call), std::move(request), [&context](FuseCall& call, BrokerResponse&) {
    context.open_files().NeedKillPriv(call.in.nodeid);
    call.Reply(0);
  });
}

void Getxattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_getxattr_in in;
  if (!call->Arg(in)) return call->Malformed("short GETXATTR");
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("GETXATTR without a name");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_getxattr()->set_node(call->in.nodeid);
  request.mutable_getxattr()->set_name(std::string(*name));
  request.mutable_getxattr()->set_size(in.size);
  ForwardXattr(context, std::move(call), std::move(request), /*size_only=*/in.size == 0);
}

void Listxattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_getxattr_in in;
  if (!call->Arg(in)) return call->Malformed("short LISTXATTR");
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_listxattr()->set_node(call->in.nodeid);
  request.mutable_listxattr()->set_size(in.size);
  ForwardXattr(context, std::move(call), std::move(request), /*size_only=*/in.size == 0);
}

void Removexattr(FuseContext& context, std::unique_ptr<FuseCall> call) {
  std::optional<std::string_view> name = call->String();
  if (!name) return call->Malformed("REMOVEXATTR without a name");
  if (int err = CheckXattrName(*name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_removexattr()->set_node(call->in.nodeid);
  request.mutable_removexattr()->set_name(std::string(*name));
  context.ForwardEmpty(std::move(call), std::move(request));
}

}  // namespace virtiofsd::fuse_op
