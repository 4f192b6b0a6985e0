// Moving bytes between the frontend and a descriptor chain's buffers: a reader over
// the device-readable buffers (the FUSE request) and a writer over the
// device-writable ones (the reply). Both hand out sub-ranges as iovecs, so file data
// moves between a file and guest memory with one preadv/pwritev and no copy.

#ifndef VIRTIOFSD_FRONTEND_CHAIN_IO_H_
#define VIRTIOFSD_FRONTEND_CHAIN_IO_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"

namespace virtiofsd {

using IovecList = absl::InlinedVector<iovec, 8>;

// Walks a list of buffers front to back.
class ChainCursor {
 public:
  explicit ChainCursor(absl::Span<const iovec> buffers);

  size_t remaining() const { return remaining_; }

  // Copies the next min(n, remaining()) bytes to `dst` (or from `src`); returns the
  // count.
  size_t CopyOut(void* dst, size_t n);
  size_t CopyIn(const void* src, size_t n);

  // The next min(n, remaining()) bytes as iovecs, and advances past them.
  IovecList Take(size_t n);

 private:
  template <typename F>
  size_t Walk(size_t n, F&& visit);

  absl::Span<const iovec> buffers_;
  size_t index_ = 0;
  size_t offset_ = 0;  // Within buffers_[index_].
  size_t remaining_ = 0;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_CHAIN_IO_H_
