#include "frontend/fuse_name_ops.h"

#include <linux/fuse.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/fs_names.h"

namespace virtiofsd::fuse_op {
namespace {

// The next argument: a checked entry name. nullopt after answering the call (the
// string's absence is malformed, a bad name gets the name check's errno).
std::optional<std::string> EntryName(FuseCall& call, std::string_view what) {
  std::optional<std::string_view> name = call.String();
  if (!name) {
    call.Malformed(std::string(what) + " without a name");
    return std::nullopt;
  }
  if (int err = CheckEntryName(*name)) {
    call.ReplyError(err);
    return std::nullopt;
  }
  return std::string(*name);
}

bool GuestStripsSetgid(const FuseContext& context) {
  return context.guest_strips_setgid.load(std::memory_order_relaxed);
}

}  // namespace

void Symlink(FuseContext& context, std::unique_ptr<FuseCall> call) {
  std::optional<std::string_view> name = call->String();
  std::optional<std::string_view> target = call->String();
  if (!name || !target) return call->Malformed("SYMLINK without name and target");
  if (int err = CheckEntryName(*name)) return call->ReplyError(err);
  if (int err = CheckSymlinkTarget(*target)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  proto::SymlinkRequest* symlink = request.mutable_symlink();
  symlink->set_parent(call->in.nodeid);
  symlink->set_name(std::string(*name));
  symlink->set_target(std::string(*target));
  context.ForwardEntry(std::move(call), std::move(request));
}

void Mknod(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_mknod_in in;
  if (!call->Arg(in)) return call->Malformed("short MKNOD");
  std::optional<std::string> name = EntryName(*call, "MKNOD");
  if (!name) return;
  proto::Request request = FuseContext::NewRequest(*call, in.umask);
  proto::MknodRequest* mknod = request.mutable_mknod();
  mknod->set_parent(call->in.nodeid);
  mknod->set_name(std::move(*name));
  mknod->set_mode(in.mode);
  mknod->set_rdev(in.rdev);
  mknod->set_guest_strips_setgid(GuestStripsSetgid(context));
  context.ForwardEntry(std::move(call), std::move(request));
}

void Mkdir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_mkdir_in in;
  if (!call->Arg(in)) return call->Malformed("short MKDIR");
  std::optional<std::string> name = EntryName(*call, "MKDIR");
  if (!name) return;
  proto::Request request = FuseContext::NewRequest(*call, in.umask);
  request.mutable_mkdir()->set_parent(call->in.nodeid);
  request.mutable_mkdir()->set_name(std::move(*name));
  request.mutable_mkdir()->set_mode(in.mode);
  context.ForwardEntry(std::move(call), std::move(request));
}

void Unlink(FuseContext& context, std::unique_ptr<FuseCall> call) {
  std::optional<std::string> name = EntryName(*call, "UNLINK");
  if (!name) return;
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_unlink()->set_parent(call->in.nodeid);
  request.mutable_unlink()->set_name(std::move(*name));
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Rmdir(FuseContext& context, std::unique_ptr<FuseCall> call) {
  std::optional<std::string> name = EntryName(*call, "RMDIR");
  if (!name) return;
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_rmdir()->set_parent(call->in.nodeid);
  request.mutable_rmdir()->set_name(std::move(*name));
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Rename(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_rename_in in;
  if (!call->Arg(in)) return call->Malformed("short RENAME");
  fuse_rename2_in in2{};
  in2.newdir = in.newdir;
  call->pos = 0;
  call->args.replace(0, sizeof(in), std::string(Bytes(in2)));
  Rename2(context, std::move(call));
}

void Rename2(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_rename2_in in;
  if (!call->Arg(in)) return call->Malformed("short RENAME2");
  std::optional<std::string_view> old_name = call->String();
  std::optional<std::string_view> new_name = call->String();
  if (!old_name || !new_name) return call->Malformed("RENAME without both names");
  if (int err = CheckEntryName(*old_name)) return call->ReplyError(err);
  if (int err = CheckEntryName(*new_name)) return call->ReplyError(err);
  proto::Request request = FuseContext::NewRequest(*call);
  proto::RenameRequest* rename = request.mutable_rename();
  rename->set_old_parent(call->in.nodeid);
  rename->set_old_name(std::string(*old_name));
  rename->set_new_parent(in.newdir);
  rename->set_new_name(std::string(*new_name));
  rename->set_flags(in.flags);
  context.ForwardEmpty(std::move(call), std::move(request));
}

void Link(FuseContext& context, std::unique_ptr<FuseCall> call) {
  fuse_link_in in;
  if (!call->Arg(in)) return call->Malformed("short LINK");
  std::optional<std::string> name = EntryName(*call, "LINK");
  if (!name) return;
  proto::Request request = FuseContext::NewRequest(*call);
  request.mutable_link()->set_node(in.oldnodeid);
  request.mutable_link()->set_new_parent(call->in.nodeid);
  request.mutable_link()->set_new_name(std::move(*name));
  context.ForwardEntry(std::move(call), std::move(request));
}

}  // namespace virtiofsd::fuse_op
