#include "tests/e2e/manifest.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "tests/e2e/md5.h"

namespace virtiofsd::e2e {
namespace {

absl::Status BadLine(absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("manifest line '", line, "': ", why));
}

// "entry PATH TYPE MODE UID GID SIZE NLINK TARGET MD5", "-" for an empty field.
absl::Status ParseEntry(absl::string_view line, Manifest& manifest) {
  std::vector<std::string> f = absl::StrSplit(line, ' ');
  if (f.size() != 10) return BadLine(line, "want 10 fields");
  Entry e;
  if (f[2].size() != 1) return BadLine(line, "bad type");
  e.type = f[2][0];
  if (!absl::numbers_internal::safe_strtou32_base(f[3], &e.mode, 8) ||
      !absl::SimpleAtoi(f[4], &e.uid) || !absl::SimpleAtoi(f[5], &e.gid) ||
      !(f[6] == "-" || absl::SimpleAtoi(f[6], &e.size)) || !absl::SimpleAtoi(f[7], &e.nlink)) {
    return BadLine(line, "bad number");
  }
  if (f[8] != "-") e.target = f[8];
  if (f[9] != "-") e.md5 = f[9];
  if (!manifest.emplace(f[1], std::move(e)).second) return BadLine(line, "path repeated");
  return absl::OkStatus();
}

// "xattr PATH NAME VALUE" (the value may hold spaces); follows its path's entry line.
absl::Status ParseXattr(absl::string_view line, Manifest& manifest) {
  std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
  if (f.size() != 4) return BadLine(line, "want 4 fields");
  auto it = manifest.find(f[1]);
  if (it == manifest.end()) return BadLine(line, "no entry line before it");
  it->second.xattrs[f[2]] = f[3];
  return absl::OkStatus();
}

absl::Status ScanXattrs(const std::string& path, Entry& entry) {
  char names[65536];
  const ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  if (n < 0) return ErrnoError(errno, "llistxattr " + path);
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
    const std::string name(names + i);
    if (name.rfind("user.", 0) != 0) continue;
    char value[65536];
    const ssize_t len = lgetxattr(path.c_str(), name.c_str(), value, sizeof(value));
    if (len < 0) return ErrnoError(errno, "lgetxattr " + path + " " + name);
    entry.xattrs[name] = std::string(value, static_cast<size_t>(len));
  }
  return absl::OkStatus();
}

absl::Status ScanEntry(const std::string& root, const std::string& rel, Manifest& manifest) {
  const std::string path = root + "/" + rel;
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return ErrnoError(errno, "lstat " + path);
  Entry e;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = st.st_size;
  e.nlink = st.st_nlink;
  if (S_ISREG(st.st_mode)) {
    e.type = 'f';
    VFSD_ASSIGN_OR_RETURN(e.md5, Md5OfFile(path));
  } else if (S_ISDIR(st.st_mode)) {
    e.type = 'd';
    e.size = -1;
  } else if (S_ISLNK(st.st_mode)) {
    e.type = 'l';
    char target[PATH_MAX];
    const ssize_t n = readlink(path.c_str(), target, sizeof(target));
    if (n < 0) return ErrnoError(errno, "readlink " + path);
    e.target.assign(target, static_cast<size_t>(n));
  } else {
    e.type = S_ISFIFO(st.st_mode) ? 'p' : 'o';
  }
  if (e.type != 'l') VFSD_RETURN_IF_ERROR(ScanXattrs(path, e));
  const bool is_dir = e.type == 'd';
  manifest.emplace(rel, std::move(e));
  if (!is_dir) return absl::OkStatus();

  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (dir == nullptr) return ErrnoError(errno, "opendir " + path);
  std::vector<std::string> children;
  errno = 0;
  while (const dirent* d = readdir(dir.get())) {
    const std::string name = d->d_name;
    if (name != "." && name != "..") children.push_back(rel.empty() ? name : rel + "/" + name);
  }
  if (errno != 0) return ErrnoError(errno, "readdir " + path);
  for (const std::string& child : children) VFSD_RETURN_IF_ERROR(ScanEntry(root, child, manifest));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GuestReport> ParseGuestOutput(absl::string_view output) {
  GuestReport report;
  bool in_manifest = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.empty()) {
      continue;
    } else if (absl::StartsWith(line, "#")) {
      // everyday.sh turns stray output in the manifest (error messages) into comments.
      if (in_manifest) report.manifest_errors.emplace_back(line);
    } else if (line == "manifest-begin") {
      in_manifest = true;
    } else if (line == "manifest-end") {
      in_manifest = false;
      report.manifest_complete = true;
    } else if (in_manifest && absl::StartsWith(line, "entry ")) {
      VFSD_RETURN_IF_ERROR(ParseEntry(line, report.manifest));
    } else if (in_manifest && absl::StartsWith(line, "xattr ")) {
      VFSD_RETURN_IF_ERROR(ParseXattr(line, report.manifest));
    } else if (in_manifest) {
      return BadLine(line, "neither an entry nor an xattr");
    } else if (absl::ConsumePrefix(&line, "ok - ")) {
      report.passed.emplace_back(line);
    } else if (absl::ConsumePrefix(&line, "not ok - ")) {
      report.failed.emplace_back(line);
    }
  }
  return report;
}

absl::StatusOr<Manifest> ScanHostTree(const std::string& root) {
  Manifest manifest;
  VFSD_RETURN_IF_ERROR(ScanEntry(root, "", manifest));
  manifest.erase("");  // the root itself is not an entry
  return manifest;
}

std::string FieldText(const Entry& e, Field field) {
  switch (field) {
    case Field::kType:
      return std::string(1, e.type);
    case Field::kMode:
      return absl::StrFormat("%04o", e.mode);
    case Field::kOwner:
      return absl::StrCat(e.uid, ":", e.gid);
    case Field::kSize:
      return e.size < 0 ? "-" : absl::StrCat(e.size);
    case Field::kNlink:
      return absl::StrCat(e.nlink);
    case Field::kTarget:
      return e.target;
    case Field::kMd5:
      return e.md5;
    case Field::kXattrs:
      return absl::StrJoin(e.xattrs, ",", absl::PairFormatter("="));
  }
  return "?";
}

std::vector<std::string> FieldDifferences(const Manifest& guest, const Manifest& host,
                                          Field field) {
  std::vector<std::string> out;
  for (const auto& [path, g] : guest) {
    auto it = host.find(path);
    if (it == host.end()) continue;
    const std::string gt = FieldText(g, field), ht = FieldText(it->second, field);
    if (gt != ht) out.push_back(absl::StrCat(path, ": guest '", gt, "', host '", ht, "'"));
  }
  return out;
}

std::vector<std::string> PathDifferences(const Manifest& guest, const Manifest& host) {
  std::vector<std::string> out;
  for (const auto& [path, e] : guest) {
    if (!host.contains(path)) out.push_back(path + ": only in the guest's view");
  }
  for (const auto& [path, e] : host) {
    if (!guest.contains(path)) out.push_back(path + ": only on the host");
  }
  return out;
}

}  // namespace virtiofsd::e2e
