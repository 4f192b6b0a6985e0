// Forwarded operations on nodes the guest looked up: LOOKUP, FORGET and
// BATCH_FORGET (one-way, no reply), GETATTR, SETATTR, READLINK, STATFS, ACCESS and
// SYNCFS. Names are checked (common/fs_names) before anything is sent; a
// malformed argument answers EINVAL, a malformed BATCH_FORGET is ignored (it has
// no reply). BATCH_FORGET goes out in frames of at most kForgetsPerFrame forgets.

#ifndef VIRTIOFSD_FRONTEND_FUSE_NODE_OPS_H_
#define VIRTIOFSD_FRONTEND_FUSE_NODE_OPS_H_

#include <cstddef>
#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd {

// Forgets per BatchForgetRequest, well inside one frame.
inline constexpr size_t kForgetsPerFrame = 2048;

namespace fuse_op {

void Lookup(FuseContext& context, std::unique_ptr<FuseCall> call);
void Forget(FuseContext& context, std::unique_ptr<FuseCall> call);
void BatchForget(FuseContext& context, std::unique_ptr<FuseCall> call);
void Getattr(FuseContext& context, std::unique_ptr<FuseCall> call);
void Setattr(FuseContext& context, std::unique_ptr<FuseCall> call);
void Readlink(FuseContext& context, std::unique_ptr<FuseCall> call);
void Statfs(FuseContext& context, std::unique_ptr<FuseCall> call);
void Access(FuseContext& context, std::unique_ptr<FuseCall> call);
void Syncfs(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace fuse_op
}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_NODE_OPS_H_
