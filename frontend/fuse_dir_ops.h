// Forwarded operations on open directories: OPENDIR, READDIR and READDIRPLUS,
// RELEASEDIR and FSYNCDIR.
//
// READDIR(PLUS) packing is decided on one side: the request tells the broker the
// room (max_bytes: the guest's size, bounded by the chain and kMaxIoBytes) and
// the frontend's layout of an entry (entry_bytes: sizeof(fuse_dirent), or
// sizeof(fuse_direntplus) for READDIRPLUS; name_alignment: FUSE_DIRENT_ALIGN's
// 8), and the broker returns only entries that fit, taking lookups only for those.
// A reply holding an entry that does not fit (or has no valid name) comes from a
// broken broker: that entry and the ones after it are dropped, with one log line
// per reply, and the guest gets the entries before it.

#ifndef VIRTIOFSD_FRONTEND_FUSE_DIR_OPS_H_
#define VIRTIOFSD_FRONTEND_FUSE_DIR_OPS_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd::fuse_op {

void Opendir(FuseContext& context, std::unique_ptr<FuseCall> call);
// READDIR and READDIRPLUS.
void Readdir(FuseContext& context, std::unique_ptr<FuseCall> call);
void Releasedir(FuseContext& context, std::unique_ptr<FuseCall> call);
void Fsyncdir(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace virtiofsd::fuse_op

#endif  // VIRTIOFSD_FRONTEND_FUSE_DIR_OPS_H_
