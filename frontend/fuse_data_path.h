// The data path: READ and WRITE move bytes between guest memory and the fd the
// broker passed at OPEN/CREATE, with one preadv/pwritev and no copy, on a worker
// of the context's pool when it has one (on the queue thread otherwise).
//
// READ and WRITE larger than kMaxIoBytes, a WRITE whose size disagrees with the
// data the chain carries, and data in more than IOV_MAX pieces are malformed
// (EINVAL); an unknown handle answers EBADF; the syscall's errno goes back as is.
//
// WRITE keeps two promises of the kernel the frontend cannot keep by itself
// (it runs without CAP_FSETID): a file whose handle carries kill_priv has the
// broker remove its (remapped) security.capability before the data is written
// (CVE-2021-20263; an error then fails the WRITE), and a guest root writer that
// did not ask FUSE_WRITE_KILL_SUIDGID keeps the file's set-id bits, which the
// broker restores after the write (a failure there is logged, the WRITE stands).
// Both are SetattrRequests sent as the writer, waited for on the I/O thread.

#ifndef VIRTIOFSD_FRONTEND_FUSE_DATA_PATH_H_
#define VIRTIOFSD_FRONTEND_FUSE_DATA_PATH_H_

#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd::fuse_op {

void Read(FuseContext& context, std::unique_ptr<FuseCall> call);
void Write(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace virtiofsd::fuse_op

#endif  // VIRTIOFSD_FRONTEND_FUSE_DATA_PATH_H_
