#include "frontend/node_map.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "common/status.h"

namespace virtiofsd {
namespace {

constexpr uint64_t kRootNode = 1;  // the share's root, the same at every broker
// Deeper than any path a guest can walk (PATH_MAX / 2): a chain this long is broken.
constexpr int kMaxDepth = 4096;
// Flags that would change the file if a handle's open were repeated.
constexpr uint32_t kNotRepeated = O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY;

}  // namespace

uint64_t NodeMap::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

void NodeMap::NewEpoch() {
  absl::MutexLock lock(&mu_);
  ++epoch_;
  epoch_now_.store(epoch_, std::memory_order_release);
  by_broker_.clear();
}

bool NodeMap::Records(proto::Request::OpCase op) {
  using R = proto::Request;
  switch (op) {
    case R::kLookup:
    case R::kSymlink:
    case R::kMknod:
    case R::kMkdir:
    case R::kLink:
    case R::kCreate:
    case R::kTmpfile:
    case R::kOpen:
    case R::kOpendir:
    case R::kReaddir:
    case R::kUnlink:
    case R::kRmdir:
    case R::kRename:
      return true;
    default:
      return false;
  }
}

void NodeMap::Clear() {
  nodes_.clear();
  by_broker_.clear();
  by_name_.clear();
  handles_.clear();
}

template <typename Map>
uint64_t NodeMap::FreeId(const Map& map, uint64_t broker) {
  if (epoch_ == 0 || (broker != kRootNode && !map.contains(broker))) return broker;
  while (map.contains(next_id_)) ++next_id_;
  return next_id_++;
}

void NodeMap::DropName(const Name& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  auto node = nodes_.find(it->second);
  if (node != nodes_.end()) node->second.parent = 0;
  by_name_.erase(it);
}

void NodeMap::SetName(uint64_t node, uint64_t parent, const std::string& name) {
  Node& n = nodes_[node];
  if (n.parent != 0) {
    auto old = by_name_.find(Name(n.parent, n.name));
    if (old != by_name_.end() && old->second == node) by_name_.erase(old);
  }
  Name key(parent, name);
  auto [it, inserted] = by_name_.try_emplace(key, node);
  if (!inserted && it->second != node) {
    // Another node had this name: it was replaced.
    auto other = nodes_.find(it->second);
    if (other != nodes_.end()) other->second.parent = 0;
    it->second = node;
  }
  n.parent = parent;
  n.name = name;
}

void NodeMap::RecordEntry(uint64_t parent, const std::string& name, proto::Entry& entry) {
  const uint64_t broker = entry.node();
  if (broker == 0) return;
  uint64_t guest;
  auto known = by_broker_.find(broker);
  if (known != by_broker_.end() && nodes_.contains(known->second)) {
    guest = known->second;
  } else {
    guest = broker == kRootNode ? kRootNode : FreeId(nodes_, broker);
    by_broker_[broker] = guest;
  }
  Node& node = nodes_[guest];
  if (node.epoch != epoch_ || node.broker != broker) {
    node.epoch = epoch_;
    node.broker = broker;
    node.broker_lookups = 0;
  }
  ++node.guest_lookups;
  ++node.broker_lookups;
  node.ino = entry.attr().ino();
  node.type = entry.attr().mode() & S_IFMT;
  if (parent != 0 && guest != kRootNode) SetName(guest, parent, name);
  entry.set_node(guest);
}

uint64_t NodeMap::RecordHandle(uint64_t broker, uint64_t node, uint32_t flags, bool dir) {
  const uint64_t guest = FreeId(handles_, broker);
  handles_[guest] = Handle{node, broker, epoch_, epoch_, flags, dir};
  return guest;
}

std::optional<std::pair<uint64_t, uint64_t>> NodeMap::Forget(uint64_t node, uint64_t nlookup) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    // Not one of ours: before any restart the broker judges it, as it always did.
    if (epoch_ == 0) return std::make_pair(node, nlookup);
    return std::nullopt;
  }
  Node& n = it->second;
  n.guest_lookups -= std::min(n.guest_lookups, nlookup);
  if (n.guest_lookups > 0) return std::nullopt;
  std::optional<std::pair<uint64_t, uint64_t>> forget;
  if (n.epoch == epoch_ && n.broker_lookups > 0) forget.emplace(n.broker, n.broker_lookups);
  if (n.parent != 0) {
    auto named = by_name_.find(Name(n.parent, n.name));
    if (named != by_name_.end() && named->second == node) by_name_.erase(named);
  }
  if (n.epoch == epoch_) {
    auto mapped = by_broker_.find(n.broker);
    if (mapped != by_broker_.end() && mapped->second == node) by_broker_.erase(mapped);
  }
  nodes_.erase(it);
  return forget;
}

absl::StatusOr<uint64_t> NodeMap::ResolveNode(uint64_t node, const proto::Caller& caller,
                                              BrokerClient& client, int depth) {
  if (node == kRootNode) return kRootNode;
  uint64_t parent;
  std::string name;
  uint64_t ino;
  uint32_t type;
  {
    absl::MutexLock lock(&mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) {
      if (epoch_ == 0) return node;  // the broker judges ids it never gave
      return ErrnoError(ESTALE, "unknown node");
    }
    const Node& n = it->second;
    if (n.epoch == epoch_) return n.broker;
    if (n.parent == 0 || depth > kMaxDepth) return ErrnoError(ESTALE, "no name to find it by");
    parent = n.parent;
    name = n.name;
    ino = n.ino;
    type = n.type;
  }
  VFSD_ASSIGN_OR_RETURN(const uint64_t broker_parent,
                        ResolveNode(parent, caller, client, depth + 1));
  proto::Request lookup;
  *lookup.mutable_caller() = caller;
  lookup.mutable_lookup()->set_parent(broker_parent);
  lookup.mutable_lookup()->set_name(name);
  absl::StatusOr<BrokerResponse> found = client.Call(std::move(lookup));
  if (!found.ok()) return ErrnoError(EIO, "broker gone");
  if (found->reply.error() != 0) return ErrnoError(ESTALE, "not found again");
  const proto::Entry& entry = found->reply.entry();
  auto forget_found = [&] {
    proto::Request forget;
    forget.mutable_forget()->set_node(entry.node());
    forget.mutable_forget()->set_nlookup(1);
    (void)client.SendOneWay(std::move(forget));
  };
  if (entry.attr().ino() != ino || (entry.attr().mode() & S_IFMT) != type) {
    forget_found();  // another file now has the name
    return ErrnoError(ESTALE, "replaced");
  }
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    forget_found();
    return ErrnoError(ESTALE, "forgotten meanwhile");
  }
  Node& n = it->second;
  if (n.epoch == epoch_ && n.broker != entry.node()) {
    forget_found();  // found again by another request meanwhile
    return n.broker;
  }
  if (n.epoch != epoch_) {
    n.epoch = epoch_;
    n.broker = entry.node();
    n.broker_lookups = 0;
  }
  ++n.broker_lookups;
  by_broker_.try_emplace(entry.node(), node);
  return n.broker;
}

absl::StatusOr<uint64_t> NodeMap::ResolveHandle(uint64_t fh, const proto::Caller& caller,
                                                BrokerClient& client) {
  Handle handle;
  {
    absl::MutexLock lock(&mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      if (epoch_ == 0) return fh;
      return ErrnoError(EBADF, "unknown handle");
    }
    if (it->second.epoch == epoch_) return it->second.broker;
    handle = it->second;
  }
  VFSD_ASSIGN_OR_RETURN(const uint64_t node, ResolveNode(handle.node, caller, client));
  proto::Request open;
  *open.mutable_caller() = caller;
  if (handle.dir) {
    open.mutable_opendir()->set_node(node);
    open.mutable_opendir()->set_flags(handle.flags);
  } else {
    open.mutable_open()->set_node(node);
    open.mutable_open()->set_flags(handle.flags & ~kNotRepeated);
  }
  absl::StatusOr<BrokerResponse> opened = client.Call(std::move(open));
  if (!opened.ok()) return ErrnoError(EIO, "broker gone");
  if (opened->reply.error() != 0) return ErrnoError(ESTALE, "cannot be opened again");
  // The new fd is not needed: the frontend keeps the one it had (closed here).
  const uint64_t broker =
      handle.dir ? opened->reply.opendir().handle() : opened->reply.open().handle();
  auto release = [&] {
    proto::Request release;
    *release.mutable_caller() = caller;
    if (handle.dir) {
      release.mutable_releasedir()->set_handle(broker);
    } else {
      release.mutable_release()->set_handle(broker);
    }
    (void)client.Submit(std::move(release), [](absl::StatusOr<BrokerResponse>) {});
  };
  absl::MutexLock lock(&mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) {
    release();
    return ErrnoError(EBADF, "released meanwhile");
  }
  if (it->second.epoch == epoch_) {
    release();  // opened again by another request meanwhile
    return it->second.broker;
  }
  it->second.epoch = epoch_;
  it->second.broker = broker;
  return broker;
}

int NodeMap::MapNode(uint64_t& value, const proto::Caller& caller, BrokerClient& client) {
  absl::StatusOr<uint64_t> broker = ResolveNode(value, caller, client);
  if (!broker.ok()) return ErrnoOf(broker.status());
  value = *broker;
  return 0;
}

int NodeMap::MapHandle(uint64_t& value, const proto::Caller& caller, BrokerClient& client) {
  absl::StatusOr<uint64_t> broker = ResolveHandle(value, caller, client);
  if (!broker.ok()) return ErrnoOf(broker.status());
  value = *broker;
  return 0;
}

std::optional<int> NodeMap::LocalRelease(uint64_t& fh, bool release) {
  absl::MutexLock lock(&mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) {
    if (epoch_ == 0) return std::nullopt;  // the broker judges handles it never gave
    return EBADF;
  }
  const bool before = it->second.epoch != epoch_;
  fh = it->second.broker;
  if (release) handles_.erase(it);
  if (before) return 0;
  return std::nullopt;
}

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
