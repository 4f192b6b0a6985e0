// Forwarded operations on regular files: OPEN, CREATE and TMPFILE (the broker
// passes the file's fd, which the context's OpenFiles keeps for the data path
// under the broker's handle id), RELEASE (forgets it), FLUSH, FSYNC, FALLOCATE,
// LSEEK and COPY_FILE_RANGE. The open reply carries the --cache policy's flags
// (FuseContext::OpenOut).

#ifndef VIRTIOFSD_FRONTEND_FUSE_FILE_OPS_H_
#define VIRTIOFSD_FRONTEND_FUSE_FILE_OPS_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd::fuse_op {

void Open(FuseContext& context, std::unique_ptr<FuseCall> call);
void Create(FuseContext& context, std::unique_ptr<FuseCall> call);
void Tmpfile(FuseContext& context, std::unique_ptr<FuseCall> call);
void Release(FuseContext& context, std::unique_ptr<FuseCall> call);
void Flush(FuseContext& context, std::unique_ptr<FuseCall> call);
void Fsync(FuseContext& context, std::unique_ptr<FuseCall> call);
void Fallocate(FuseContext& context, std::unique_ptr<FuseCall> call);
void Lseek(FuseContext& context, std::unique_ptr<FuseCall> call);
void CopyFileRange(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace virtiofsd::fuse_op

#endif  // VIRTIOFSD_FRONTEND_FUSE_FILE_OPS_H_
