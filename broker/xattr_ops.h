// The handlers of extended attributes: SETXATTR, GETXATTR, LISTXATTR and
// REMOVEXATTR.
//
// Off without --xattr (ENOSYS, so the guest stops asking). Names are checked,
// then renamed by --xattrmap (a name the map refuses gets EPERM, and listed
// names the map hides are left out); POSIX ACLs need --posix-acl, and their ids
// are translated by --translate-uid/--translate-gid both ways. Only root sets or
// removes security.capability (by its guest or its host name). The syscalls act
// on the held inode itself through the broker's /proc/self/fd
// (InodeStore::EnterProcSelfFd), never through a path.
//
// Runs on the caller's credentials (Server switched them), on a thread with a
// cwd of its own (UnshareThreadFs()). Thread-safe.

#ifndef VIRTIOFSD_BROKER_XATTR_OPS_H_
#define VIRTIOFSD_BROKER_XATTR_OPS_H_

#include <string>

#include "broker/inode_store.h"
#include "broker/response.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class XattrOps {
 public:
  // `store` must outlive this.
  explicit XattrOps(InodeStore& store) : store_(store) {}

  // Each returns 0 (result in `response`) or a positive errno.
  int Setxattr(const proto::Request& request, Response& response);
  int Getxattr(const proto::Request& request, Response& response);
  int Listxattr(const proto::Request& request, Response& response);
  int Removexattr(const proto::Request& request, Response& response);

 private:
  // The guest's xattr name as the host knows it; errno when refused.
  int HostXattrName(const std::string& guest_name, std::string& host_name) const;
  // True for a POSIX ACL xattr (guest name) whose ids need translating.
  bool IsTranslatedAcl(const std::string& guest_name) const;
  // EPERM when a caller other than root sets or removes security.capability (by
  // its guest or its host name); else 0.
  int CheckCapabilityXattr(const proto::Request& request, const std::string& host_name) const;

  InodeStore& store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_XATTR_OPS_H_
