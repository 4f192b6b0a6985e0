// A manifest: the attributes of every entry of a directory tree, as the test guest reports
// them (tests/e2e/everyday.sh prints one between "manifest-begin" and "manifest-end") and as
// the host sees the shared directory. Comparing the two, field by field, shows what a
// virtio-fs daemon got wrong.

#ifndef VIRTIOFSD_TESTS_E2E_MANIFEST_H_
#define VIRTIOFSD_TESTS_E2E_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd::e2e {

// One entry, in the fields everyday.sh prints (busybox stat's conventions).
struct Entry {
  char type = '?';    // 'f' regular, 'd' directory, 'l' symlink, 'p' FIFO, 'o' other
  unsigned mode = 0;  // permission bits with setuid/setgid/sticky (st_mode & 07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t size = -1;  // -1 for directories (their size is the host filesystem's business)
  uint64_t nlink = 0;
  std::string target;                         // symlink target, else empty
  std::string md5;                            // hex digest of a regular file's contents, else empty
  std::map<std::string, std::string> xattrs;  // user.* attributes (not read on symlinks)
};

// Entries by path relative to the tree's root ("docs/plan.txt"); the root is not included.
using Manifest = std::map<std::string, Entry>;

// What the guest script printed: its "ok - X" / "not ok - X" steps and its manifest.
struct GuestReport {
  std::vector<std::string> passed;
  std::vector<std::string> failed;
  Manifest manifest;
  bool manifest_complete = false;            // "manifest-end" was seen
  std::vector<std::string> manifest_errors;  // "# ..." lines inside the manifest (stray output)
};

// Parses everyday.sh's output. Blank lines, "#" lines outside the manifest and anything else
// that is not a step are ignored; "#" lines inside it are kept as manifest_errors; a malformed
// manifest line is an InvalidArgument error naming it.
absl::StatusOr<GuestReport> ParseGuestOutput(absl::string_view output);

// Walks `root` on the host with lstat(2) (never following symlinks), reading symlink
// targets, MD5s of regular files and user.* xattrs, into the same shape.
absl::StatusOr<Manifest> ScanHostTree(const std::string& root);

// The aspects compared separately, so a failure names what differs.
enum class Field { kType, kMode, kOwner, kSize, kNlink, kTarget, kMd5, kXattrs };

// `field` of `entry` as text, for comparing and printing ("0640", "1000:1000", ...).
std::string FieldText(const Entry& entry, Field field);

// One line "PATH: guest X, host Y" for each path both manifests hold whose `field` differs.
std::vector<std::string> FieldDifferences(const Manifest& guest, const Manifest& host, Field field);

// One line "PATH: only in the guest's view" / "only on the host" per unmatched path.
std::vector<std::string> PathDifferences(const Manifest& guest, const Manifest& host);

}  // namespace virtiofsd::e2e

#endif  // VIRTIOFSD_TESTS_E2E_MANIFEST_H_
