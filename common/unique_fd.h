// A move-only owner of one file descriptor.
//
// File descriptors are capabilities: an fd that outlives its use keeps access open.
// Every fd the project opens or receives is owned by a UniqueFd from the statement
// that creates it; a raw int is only borrowed, for the length of one call.

#ifndef VIRTIOFSD_COMMON_UNIQUE_FD_H_
#define VIRTIOFSD_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace virtiofsd {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (-1 means "no fd").
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  // The fd, still owned by this object; -1 if none.
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing; the caller now owns the result.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and takes ownership of `fd`. close() errors are
  // ignored: the fd is released by the kernel even when close reports EINTR/EIO.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_UNIQUE_FD_H_
