#include "frontend/chain_io.h"

#include <string.h>

#include <algorithm>

namespace virtiofsd {

ChainCursor::ChainCursor(absl::Span<const iovec> buffers) : buffers_(buffers) {
  for (const iovec& buffer : buffers_) remaining_ += buffer.iov_len;
}

template <typename F>
size_t ChainCursor::Walk(size_t n, F&& visit) {
  size_t done = 0;
  while (done < n && index_ < buffers_.size()) {
    const iovec& buffer = buffers_[index_];
    const size_t step = std::min(n - done, buffer.iov_len - offset_);
    visit(static_cast<uint8_t*>(buffer.iov_base) + offset_, step, done);
    done += step;
    offset_ += step;
    if (offset_ == buffer.iov_len) {
      ++index_;
      offset_ = 0;
    }
  }
  remaining_ -= done;
  return done;
}

size_t ChainCursor::CopyOut(void* dst, size_t n) {
  return Walk(n, [dst](uint8_t* p, size_t len, size_t at) {
    memcpy(static_cast<uint8_t*>(dst) + at, p, len);
  });
}

size_t ChainCursor::CopyIn(const void* src, size_t n) {
  return Walk(n, [src](uint8_t* p, size_t len, size_t at) {
    memcpy(p, static_cast<const uint8_t*>(src) + at, len);
  });
}

IovecList ChainCursor::Take(size_t n) {
  IovecList taken;
  Walk(n, [&taken](uint8_t* p, size_t len, size_t) { taken.push_back({p, len}); });
  return taken;
}

}  // namespace virtiofsd
