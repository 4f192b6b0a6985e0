// NodeMap's rewriting of each request and reply between the guest's ids and the
// serving broker's, operation by operation (node_map.h states the rules); the
// records and the re-finding they use are in node_map.cc.

#include "frontend/node_map.h"

#include <linux/fs.h>

namespace virtiofsd {

// Rewrites one uint64 field of a request message through MapNode/MapHandle.
#define VFSD_MAP(kind, message, field)                          \
  do {                                                          \
    uint64_t value = (message).field();                         \
    if (int err = Map##kind(value, caller, client)) return err; \
    (message).set_##field(value);                               \
  } while (0)

std::optional<int> NodeMap::ToBroker(proto::Request& request, BrokerClient& client, Sent& sent) {
  using R = proto::Request;
  sent.op = request.op_case();
  sent.epoch = epoch_now_.load(std::memory_order_acquire);
  if (sent.op == R::kForget || sent.op == R::kBatchForget || sent.op == R::kDestroy) {
    absl::MutexLock lock(&mu_);
    switch (request.op_case()) {
      case R::kForget: {
        auto forget = Forget(request.forget().node(), request.forget().nlookup());
        if (!forget) return 0;
        request.mutable_forget()->set_node(forget->first);
        request.mutable_forget()->set_nlookup(forget->second);
        return std::nullopt;
      }
      case R::kBatchForget: {
        proto::BatchForgetRequest kept;
        for (const proto::ForgetRequest& one : request.batch_forget().forgets()) {
          if (auto forget = Forget(one.node(), one.nlookup())) {
            proto::ForgetRequest* out = kept.add_forgets();
            out->set_node(forget->first);
            out->set_nlookup(forget->second);
          }
        }
        if (kept.forgets_size() == 0) return 0;
        *request.mutable_batch_forget() = std::move(kept);
        return std::nullopt;
      }
      default:    // kDestroy
        Clear();  // the broker forgets every node and handle
        return std::nullopt;
    }
  }
  const proto::Caller& caller = request.caller();
  switch (request.op_case()) {
    case R::kLookup:
      sent.parent = request.lookup().parent();
      sent.name = request.lookup().name();
      VFSD_MAP(Node, *request.mutable_lookup(), parent);
      break;
    case R::kGetattr: {
      VFSD_MAP(Node, *request.mutable_getattr(), node);
      if (sent.epoch == 0) break;
      // A handle from before is not re-opened just to read attributes.
      absl::MutexLock lock(&mu_);
      auto it = handles_.find(request.getattr().handle());
      if (request.getattr().handle() != 0 && it != handles_.end()) {
        if (it->second.epoch == epoch_) {
          request.mutable_getattr()->set_handle(it->second.broker);
        } else {
          request.mutable_getattr()->set_handle(0);
        }
      }
      break;
    }
    case R::kSetattr:
      VFSD_MAP(Node, *request.mutable_setattr(), node);
      if (request.setattr().handle() != 0) VFSD_MAP(Handle, *request.mutable_setattr(), handle);
      break;
    case R::kReadlink:
      VFSD_MAP(Node, *request.mutable_readlink(), node);
      break;
    case R::kSymlink:
      sent.parent = request.symlink().parent();
      sent.name = request.symlink().name();
      VFSD_MAP(Node, *request.mutable_symlink(), parent);
      break;
    case R::kMknod:
      sent.parent = request.mknod().parent();
      sent.name = request.mknod().name();
      VFSD_MAP(Node, *request.mutable_mknod(), parent);
      break;
    case R::kMkdir:
      sent.parent = request.mkdir().parent();
      sent.name = request.mkdir().name();
      VFSD_MAP(Node, *request.mutable_mkdir(), parent);
      break;
    case R::kUnlink:
      sent.parent = request.unlink().parent();
      sent.name = request.unlink().name();
      VFSD_MAP(Node, *request.mutable_unlink(), parent);
      break;
    case R::kRmdir:
      sent.parent = request.rmdir().parent();
      sent.name = request.rmdir().name();
      VFSD_MAP(Node, *request.mutable_rmdir(), parent);
      break;
    case R::kRename:
      sent.parent = request.rename().old_parent();
      sent.name = request.rename().old_name();
      sent.new_parent = request.rename().new_parent();
      sent.new_name = request.rename().new_name();
      sent.flags = request.rename().flags();
      VFSD_MAP(Node, *request.mutable_rename(), old_parent);
      VFSD_MAP(Node, *request.mutable_rename(), new_parent);
      break;
    case R::kLink:
      sent.parent = request.link().new_parent();
      sent.name = request.link().new_name();
      VFSD_MAP(Node, *request.mutable_link(), node);
      VFSD_MAP(Node, *request.mutable_link(), new_parent);
      break;
    case R::kOpen:
      sent.node = request.open().node();
      sent.flags = request.open().flags();
      VFSD_MAP(Node, *request.mutable_open(), node);
      break;
    case R::kCreate:
      sent.parent = request.create().parent();
      sent.name = request.create().name();
      sent.flags = request.create().flags();
      VFSD_MAP(Node, *request.mutable_create(), parent);
      break;
    case R::kTmpfile:
      sent.flags = request.tmpfile().flags();
      VFSD_MAP(Node, *request.mutable_tmpfile(), parent);
      break;
    case R::kRelease: {
      uint64_t handle = request.release().handle();
      if (auto answer = LocalRelease(handle, /*release=*/true)) return answer;
      request.mutable_release()->set_handle(handle);
    } break;
    case R::kReleasedir: {
      uint64_t handle = request.releasedir().handle();
      if (auto answer = LocalRelease(handle, /*release=*/true)) return answer;
      request.mutable_releasedir()->set_handle(handle);
    } break;
    case R::kFlush: {
      uint64_t handle = request.flush().handle();
      if (auto answer = LocalRelease(handle, /*release=*/false)) return answer;
      request.mutable_flush()->set_handle(handle);
    } break;
    case R::kFsync:
      VFSD_MAP(Handle, *request.mutable_fsync(), handle);
      break;
    case R::kOpendir:
      sent.node = request.opendir().node();
      sent.flags = request.opendir().flags();
      VFSD_MAP(Node, *request.mutable_opendir(), node);
      break;
    case R::kReaddir: {
      {
        absl::MutexLock lock(&mu_);
        auto it = handles_.find(request.readdir().handle());
        if (it != handles_.end()) sent.parent = it->second.node;
      }
      VFSD_MAP(Handle, *request.mutable_readdir(), handle);
      break;
    }
    case R::kFsyncdir:
      VFSD_MAP(Handle, *request.mutable_fsyncdir(), handle);
      break;
    case R::kStatfs:
      VFSD_MAP(Node, *request.mutable_statfs(), node);
      break;
    case R::kAccess:
      VFSD_MAP(Node, *request.mutable_access(), node);
      break;
    case R::kSetxattr:
      VFSD_MAP(Node, *request.mutable_setxattr(), node);
      break;
    case R::kGetxattr:
      VFSD_MAP(Node, *request.mutable_getxattr(), node);
      break;
    case R::kListxattr:
      VFSD_MAP(Node, *request.mutable_listxattr(), node);
      break;
    case R::kRemovexattr:
      VFSD_MAP(Node, *request.mutable_removexattr(), node);
      break;
    case R::kFallocate:
      VFSD_MAP(Handle, *request.mutable_fallocate(), handle);
      break;
    case R::kLseek:
      VFSD_MAP(Handle, *request.mutable_lseek(), handle);
      break;
    case R::kCopyFileRange:
      VFSD_MAP(Handle, *request.mutable_copy_file_range(), handle_in);
      VFSD_MAP(Handle, *request.mutable_copy_file_range(), handle_out);
      break;
    case R::kSyncfs:
      VFSD_MAP(Node, *request.mutable_syncfs(), node);
      break;
    case R::kGetlk:
    case R::kSetlk: {
      if (sent.epoch == 0) break;
      const uint64_t fh =
          request.op_case() == R::kGetlk ? request.getlk().handle() : request.setlk().handle();
      {
        absl::MutexLock lock(&mu_);
        auto it = handles_.find(fh);
        // Its locks, if it held any, died with the broker that granted them.
        if (it != handles_.end() && it->second.opened != epoch_) return EIO;
      }
      if (request.op_case() == R::kGetlk) {
        VFSD_MAP(Handle, *request.mutable_getlk(), handle);
      } else {
        VFSD_MAP(Handle, *request.mutable_setlk(), handle);
      }
      break;
    }
    default:
      break;
  }
  return std::nullopt;
}

#undef VFSD_MAP

void NodeMap::FromBroker(const Sent& sent, proto::Reply& reply) {
  using R = proto::Request;
  if (!Records(sent.op)) return;
  absl::MutexLock lock(&mu_);
  if (sent.epoch != epoch_) return;  // a reply of a broker since replaced
  switch (sent.op) {
    case R::kLookup:
    case R::kSymlink:
    case R::kMknod:
    case R::kMkdir:
    case R::kLink:
      RecordEntry(sent.parent, sent.name, *reply.mutable_entry());
      break;
    case R::kCreate:
    case R::kTmpfile: {
      proto::CreateReply* create = reply.mutable_create();
      RecordEntry(sent.parent, sent.name, *create->mutable_entry());
      create->set_handle(
          RecordHandle(create->handle(), create->entry().node(), sent.flags, /*dir=*/false));
      break;
    }
    case R::kOpen:
      reply.mutable_open()->set_handle(
          RecordHandle(reply.open().handle(), sent.node, sent.flags, /*dir=*/false));
      break;
    case R::kOpendir:
      reply.mutable_opendir()->set_handle(
          RecordHandle(reply.opendir().handle(), sent.node, sent.flags, /*dir=*/true));
      break;
    case R::kReaddir:
      for (proto::DirEntry& entry : *reply.mutable_readdir()->mutable_entries()) {
        if (entry.has_entry() && entry.entry().node() != 0) {
          RecordEntry(sent.parent, entry.name(), *entry.mutable_entry());
        }
      }
      break;
    case R::kUnlink:
    case R::kRmdir:
      DropName(Name(sent.parent, sent.name));
      break;
    case R::kRename: {
      auto from = by_name_.find(Name(sent.parent, sent.name));
      std::optional<uint64_t> moved;
      if (from != by_name_.end()) moved = from->second;
      std::optional<uint64_t> other;
      auto to = by_name_.find(Name(sent.new_parent, sent.new_name));
      if (to != by_name_.end()) other = to->second;
      if (sent.flags & RENAME_EXCHANGE) {
        by_name_.erase(Name(sent.parent, sent.name));
        by_name_.erase(Name(sent.new_parent, sent.new_name));
        auto place = [&](std::optional<uint64_t> node, uint64_t parent, const std::string& name) {
          mu_.AssertHeld();
          auto it = node ? nodes_.find(*node) : nodes_.end();
          if (it == nodes_.end()) return;
          it->second.parent = parent;
          it->second.name = name;
          by_name_[Name(parent, name)] = *node;
        };
        place(moved, sent.new_parent, sent.new_name);
        place(other, sent.parent, sent.name);
      } else if (moved) {
        SetName(*moved, sent.new_parent, sent.new_name);  // replaces what was there
      } else {
        DropName(Name(sent.new_parent, sent.new_name));
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace virtiofsd
