// The handlers of names and attributes: LOOKUP, FORGET, BATCH_FORGET, DESTROY,
// GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK,
// STATFS and ACCESS.
//
// Each checks what the frontend sent (ids, one-component names, flags against an
// allow-list) and makes one *at syscall beneath a held directory fd, answering
// with the kernel's errno. Calls that create a name answer with its node (a
// lookup reference taken); FORGET gives references back. SETATTR keeps the host
// kernel's set-id and ownership rules where the guest kernel decided with
// knowledge the host lacks (supplementary groups), and clears the remapped
// security.capability as the kernel clears the real one.
//
// Runs on the caller's credentials (Server switched them). Thread-safe.

#ifndef VIRTIOFSD_BROKER_ENTRY_OPS_H_
#define VIRTIOFSD_BROKER_ENTRY_OPS_H_

#include "broker/inode_store.h"
#include "broker/response.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class EntryOps {
 public:
  // `store` must outlive this.
  explicit EntryOps(InodeStore& store) : store_(store) {}

  // Each returns 0 (result in `response`) or a positive errno.
  int Lookup(const proto::Request& request, Response& response);
  int Forget(const proto::Request& request, Response& response);       // One-way.
  int BatchForget(const proto::Request& request, Response& response);  // One-way.
  // Drops every node and handle: the guest's session ended.
  int Destroy(const proto::Request& request, Response& response);
  int Getattr(const proto::Request& request, Response& response);
  int Setattr(const proto::Request& request, Response& response);
  int Readlink(const proto::Request& request, Response& response);
  int Symlink(const proto::Request& request, Response& response);
  int Mknod(const proto::Request& request, Response& response);
  int Mkdir(const proto::Request& request, Response& response);
  int Unlink(const proto::Request& request, Response& response);
  int Rmdir(const proto::Request& request, Response& response);
  int Rename(const proto::Request& request, Response& response);
  int Link(const proto::Request& request, Response& response);
  int Statfs(const proto::Request& request, Response& response);
  // The host's answer for the caller's uid/gid (no supplementary groups).
  int Access(const proto::Request& request, Response& response);

 private:
  InodeStore& store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_ENTRY_OPS_H_
