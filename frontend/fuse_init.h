// The session's life: INIT negotiates the protocol (version, flags offered by the
// options, max_write, max_pages) and DESTROY ends it.
//
// INIT answers EPROTO to a guest older than 7.kMinGuestMinor and repeats our major
// version to a newer one (the guest retries). It offers only what the options and
// the broker support (see fuse_init.cc), intersected with what the guest wants. A
// repeated INIT (a rebooted guest that sent no DESTROY) first ends the previous
// session: open files forgotten, lock waits interrupted, and a DestroyRequest the
// broker must answer (EIO otherwise). DESTROY does the same, forwarded as is.

#ifndef VIRTIOFSD_FRONTEND_FUSE_INIT_H_
#define VIRTIOFSD_FRONTEND_FUSE_INIT_H_

#include <cstdint>
#include <memory>

#include "frontend/fuse_call.h"
#include "frontend/fuse_context.h"

namespace virtiofsd {

// The oldest guest protocol we speak (Linux 5.4, the first with virtio-fs, has 7.31).
inline constexpr uint32_t kMinGuestMinor = 31;

namespace fuse_op {

void Init(FuseContext& context, std::unique_ptr<FuseCall> call);
void Destroy(FuseContext& context, std::unique_ptr<FuseCall> call);

}  // namespace fuse_op
}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_INIT_H_
