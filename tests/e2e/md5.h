// MD5 (RFC 1321), so the host can check the digests the test guest's busybox `md5sum`
// reports. A test tool for comparing file contents, not a security primitive.

#ifndef VIRTIOFSD_TESTS_E2E_MD5_H_
#define VIRTIOFSD_TESTS_E2E_MD5_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd::e2e {

// Incremental MD5: Update() any number of times, then HexDigest() once.
class Md5 {
 public:
  Md5();
  void Update(const void* data, size_t size);
  // The digest as 32 lowercase hex digits, like md5sum prints. Ends the computation.
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);

  uint32_t state_[4];
  uint64_t total_bytes_ = 0;
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

// The MD5 of a string.
std::string Md5Hex(absl::string_view data);

// The MD5 of a file's contents (read with read(2); the file is not followed if a symlink).
absl::StatusOr<std::string> Md5OfFile(const std::string& path);

}  // namespace virtiofsd::e2e

#endif  // VIRTIOFSD_TESTS_E2E_MD5_H_
