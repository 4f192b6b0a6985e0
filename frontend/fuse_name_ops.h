// Forwarded operations that make or remove names in a directory: SYMLINK, MKNOD,
// MKDIR, UNLINK, RMDIR, RENAME, RENAME2 and LINK. Every name (and a symlink's
// target) is checked (common/fs_names) before anything is sent, so a bad name
// gets the kernel's errno without reaching the broker; the broker checks again.
// Creations carry the guest's umask, and whether the guest clears S_ISGID itself.

#ifndef VIRTIOFSD_FRONTEND_FUSE_NAME_OPS_H_
#define VIRTIOFSD_FRONTEND_FUSE_NAME_OPS_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd::fuse_op {

void Symlink(FuseContext& context, std::unique_ptr<FuseCall> call);
void Mknod(FuseContext& context, std::unique_ptr<FuseCall> call);
void Mkdir(FuseContext& context, std::unique_ptr<FuseCall> call);
void Unlink(FuseContext& context, std::unique_ptr<FuseCall> call);
void Rmdir(FuseContext& context, std::unique_ptr<FuseCall> call);
// RENAME is RENAME2 without flags.
void Rename(FuseContext& context, std::unique_ptr<FuseCall> call);
void Rename2(FuseContext& context, std::unique_ptr<FuseCall> call);
void Link(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace virtiofsd::fuse_op

#endif  // VIRTIOFSD_FRONTEND_FUSE_NAME_OPS_H_
