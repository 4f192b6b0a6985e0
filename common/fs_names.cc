#include "common/fs_names.h"

#include <errno.h>
#include <limits.h>
#include <linux/limits.h>

namespace virtiofsd {

int CheckEntryName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return EINVAL;
  if (name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) return EINVAL;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  return 0;
}

int CheckSymlinkTarget(std::string_view target) {
  if (target.empty()) return ENOENT;
  if (target.find('\0') != std::string_view::npos) return EINVAL;
  if (target.size() >= PATH_MAX) return ENAMETOOLONG;
  return 0;
}

int CheckXattrName(std::string_view name) {
  if (name.empty() || name.size() > XATTR_NAME_MAX) return ERANGE;
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  return 0;
}

}  // namespace virtiofsd
