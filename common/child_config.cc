#include "common/child_config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace virtiofsd {
namespace {

constexpr absl::string_view kMagic = "VFSC";
constexpr size_t kHeaderBytes = 8;

absl::Status Bad(int fd, const google::protobuf::MessageLite& config, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("no valid ", config.GetTypeName(), " on fd ", fd, ": ", why));
}

}  // namespace

std::string EncodeConfig(const google::protobuf::MessageLite& config) {
  std::string body = config.SerializeAsString();
  std::string framed(kMagic);
  const uint32_t size = static_cast<uint32_t>(body.size());
  for (int shift = 0; shift < 32; shift += 8) framed.push_back(static_cast<char>(size >> shift));
  return framed + body;
}

absl::StatusOr<UniqueFd> SealedMemfd(absl::string_view bytes) {
  UniqueFd fd(memfd_create("virtiofsd-config", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoError(errno, "memfd_create");
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoError(n < 0 ? errno : EIO, "write config");
    done += static_cast<size_t>(n);
  }
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    return ErrnoError(errno, "seal config");
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return ErrnoError(errno, "lseek config");
  return fd;
}

absl::StatusOr<UniqueFd> ConfigMemfd(const google::protobuf::MessageLite& config) {
  return SealedMemfd(EncodeConfig(config));
}

absl::Status ReadConfig(int fd, google::protobuf::MessageLite& config) {
  if (fcntl(fd, F_GETFD) < 0) {
    return Bad(fd, config, "not open (the child is started by virtiofsd, which passes it there)");
  }
  UniqueFd owned(fd);
  // Only a sealed memfd: never blocks (a pipe or terminal would), and nobody can
  // change it while it is read.
  constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  struct stat st;
  const int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || seals < 0 || (seals & kSeals) != kSeals) {
    return Bad(fd, config, "not a sealed memfd");
  }
  if (static_cast<uint64_t>(st.st_size) > kHeaderBytes + kMaxConfigBytes) {
    return Bad(fd, config, "too long");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = pread(fd, bytes.data() + done, bytes.size() - done, done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Bad(fd, config, absl::StrCat("read: ", strerror(n < 0 ? errno : EIO)));
    done += static_cast<size_t>(n);
  }
  if (bytes.size() < kHeaderBytes || absl::string_view(bytes).substr(0, 4) != kMagic) {
    return Bad(fd, config, "not a virtiofsd configuration");
  }
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) size |= uint32_t{static_cast<unsigned char>(bytes[4 + i])} << (8 * i);
  if (bytes.size() - kHeaderBytes != size) {
    return Bad(fd, config,
               absl::StrCat("holds ", bytes.size() - kHeaderBytes, " bytes of a ", size,
                            "-byte message (truncated or padded)"));
  }
  if (!config.ParseFromArray(bytes.data() + kHeaderBytes, static_cast<int>(size))) {
    return Bad(fd, config, "the message does not parse");
  }
  return absl::OkStatus();
}

absl::Status ConfigFieldError(absl::string_view type, absl::string_view field,
                              absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(type, ".", field, ": ", why));
}

absl::Status CheckConfigFd(absl::string_view type, absl::string_view field, int64_t fd, int& out) {
  if (fd < 0 || fd > (int64_t{1} << 30)) {
    return ConfigFieldError(type, field, absl::StrCat(fd, " is not an fd number"));
  }
  out = static_cast<int>(fd);
  return absl::OkStatus();
}

}  // namespace virtiofsd
