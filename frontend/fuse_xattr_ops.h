// Forwarded extended-attribute operations: SETXATTR, GETXATTR, LISTXATTR and
// REMOVEXATTR. Names are checked (common/fs_names) before anything is sent.
// GETXATTR and LISTXATTR with size 0 answer only the size (fuse_getxattr_out).
// SETXATTR reads the extended argument only when INIT negotiated
// FUSE_SETXATTR_EXT, and a value whose length disagrees with its size is
// malformed. Setting security.capability marks the files open on the node so
// that their next WRITE has the broker remove it again (see fuse_data_path.h).

#ifndef VIRTIOFSD_FRONTEND_FUSE_XATTR_OPS_H_
#define VIRTIOFSD_FRONTEND_FUSE_XATTR_OPS_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd::fuse_op {

void Setxattr(FuseContext& context, std::unique_ptr<FuseCall> call);
void Getxattr(FuseContext& context, std::unique_ptr<FuseCall> call);
void Listxattr(FuseContext& context, std::unique_ptr<FuseCall> call);
void Removexattr(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace virtiofsd::fuse_op

#endif  // VIRTIOFSD_FRONTEND_FUSE_XATTR_OPS_H_
