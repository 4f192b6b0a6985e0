#include "frontend/node_map.h"

#include <errno.h>
#include <fcntl.h>
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

}  // namespace virtiofsd
