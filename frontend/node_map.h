// The guest's node ids and file handles against those of the broker that serves
// now, so that a broker replaced by a fresh one (after a crash) costs the guest
// nothing it can still have.
//
// Until the first restart ("epoch 0") the guest's ids are the broker's: nothing is
// rewritten. The map still records, for each node the broker handed out, the name
// it was found by (the directory's node and the entry name; LOOKUP, MKNOD, MKDIR,
// SYMLINK, LINK, CREATE and READDIRPLUS record it, RENAME moves it, UNLINK and
// RMDIR drop it), its inode number and type, and the lookups both the guest and the
// broker hold on it; and for each open handle its node, open flags and kind.
//
// After a restart (NewEpoch()) the new broker knows none of these ids, and its own
// ids overlap them, so every request is rewritten from the guest's ids to the new
// broker's, and every reply back:
// - A node from before is found again on first use, by looking its name up beneath
//   its directory (found again the same way), from the share's root (node 1, the
//   same in every broker). It answers ESTALE when that name is gone, or now names
//   another inode (its inode number or type differ): a replaced file is never
//   silently another. A node without a name (TMPFILE, or unlinked) is ESTALE.
// - A file handle from before keeps its fd in the frontend, so READ and WRITE go on
//   unchanged. FLUSH and RELEASE of it are answered here (its POSIX locks died with
//   the old broker; data is already in the file). What needs the broker's handle
//   (FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE, SETATTR through it) re-opens the node
//   with the handle's flags (less O_CREAT, O_EXCL, O_TRUNC) on first use. GETATTR
//   through it is answered by node. Lock requests (GETLK, SETLK, SETLKW, flock) on
//   it answer EIO, even once re-opened: the locks it may have held are lost, and
//   the guest must not believe it holds them.
// - A directory handle from before is re-opened on first use (READDIR, FSYNCDIR).
// - Nodes in replies get guest ids: the broker's own when free, else fresh ones.
// - FORGET counts the guest's lookups; once the guest holds none, the node is
//   forgotten at the broker with the lookups this frontend holds there.
// A re-opening or re-finding that the broker refuses answers ESTALE.
//
// Thread-safe.

#ifndef VIRTIOFSD_FRONTEND_NODE_MAP_H_
#define VIRTIOFSD_FRONTEND_NODE_MAP_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/channel/broker_client.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class NodeMap {
 public:
  // What a request named in the guest's ids, kept for its reply.
  struct Sent {
    proto::Request::OpCase op = proto::Request::OP_NOT_SET;
    uint64_t epoch = 0;
    uint64_t parent = 0;  // the directory an entry is made or found in; a handle's node
    std::string name;
    uint64_t new_parent = 0;  // RENAME
    std::string new_name;
    uint64_t node = 0;  // OPEN, OPENDIR
    uint32_t flags = 0;
  };

  // Rewrites `request` (guest ids) for the broker `client` serves, re-finding
  // nodes and re-opening handles through `client` as needed (blocking: not from a
  // BrokerClient callback). Returns nullopt when `request` is to be sent (for a
  // FORGET or BATCH_FORGET, only if it still holds something), or the errno to
  // answer with instead (0: done, an empty success). Fills `sent` for FromBroker().
  std::optional<int> ToBroker(proto::Request& request, BrokerClient& client, Sent& sent);

  // Rewrites a successful `reply` to the request `sent` describes into guest ids,
  // and records the names and handles it grants.
  void FromBroker(const Sent& sent, proto::Reply& reply);

  // Whether FromBroker() has anything to do for replies to `op`.
  static bool Records(proto::Request::OpCase op);

  // A new broker serves: every id from before is to be found again.
  void NewEpoch();
  uint64_t epoch() const;

 private:
  struct Node {
    uint64_t parent = 0;  // 0: no name to find it by
    std::string name;
    uint64_t ino = 0;
    uint32_t type = 0;  // S_IFMT bits
    uint64_t guest_lookups = 0;
    uint64_t broker = 0;  // its id at the broker of `epoch`
    uint64_t epoch = 0;
    uint64_t broker_lookups = 0;  // held at that broker
  };
  struct Handle {
    uint64_t node = 0;  // guest id
    uint64_t broker = 0;
    uint64_t epoch = 0;   // of `broker`
    uint64_t opened = 0;  // the epoch the guest opened it in
    uint32_t flags = 0;
    bool dir = false;
  };
  using Name = std::pair<uint64_t, std::string>;

  // The current broker's id of guest node `node`, found again if need be; an errno.
  absl::StatusOr<uint64_t> ResolveNode(uint64_t node, const proto::Caller& caller,
                                       BrokerClient& client, int depth = 0);
  // The current broker's id of guest handle `fh`, re-opened if need be; an errno.
  absl::StatusOr<uint64_t> ResolveHandle(uint64_t fh, const proto::Caller& caller,
                                         BrokerClient& client);
  // Rewrites node field `value` (a guest id) in place; an errno if it cannot be.
  int MapNode(uint64_t& value, const proto::Caller& caller, BrokerClient& client);
  int MapHandle(uint64_t& value, const proto::Caller& caller, BrokerClient& client);
  // FORGET of `nlookup` of guest node `node`: the broker forget to send, if any.
  std::optional<std::pair<uint64_t, uint64_t>> Forget(uint64_t node, uint64_t nlookup)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A FLUSH or RELEASE(DIR) of guest handle `fh`: answered here for a handle
  // not opened at this broker, else nullopt with `fh` rewritten to the broker's.
  std::optional<int> LocalRelease(uint64_t& fh, bool release);

  // Records `entry` (the broker's ids) found as `name` in `parent` (0: none) and
  // rewrites it to the guest's id.
  void RecordEntry(uint64_t parent, const std::string& name, proto::Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t RecordHandle(uint64_t broker, uint64_t node, uint32_t flags, bool dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetName(uint64_t node, uint64_t parent, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropName(const Name& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A guest id for broker id `broker` that names nothing yet.
  template <typename Map>
  uint64_t FreeId(const Map& map, uint64_t broker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Clear() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> epoch_now_{0};  // epoch_, read without mu_
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = uint64_t{1} << 63;
  absl::flat_hash_map<uint64_t, Node> nodes_ ABSL_GUARDED_BY(mu_);          // by guest id
  absl::flat_hash_map<uint64_t, uint64_t> by_broker_ ABSL_GUARDED_BY(mu_);  // this epoch's
  absl::flat_hash_map<Name, uint64_t> by_name_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Handle> handles_ ABSL_GUARDED_BY(mu_);  // by guest fh
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_NODE_MAP_H_
