// Checks on names that arrive from the guest: directory entry names, symlink
// targets and extended attribute names. Pure functions, shared by the frontend
// (which may reject early) and the broker (which always decides, in every sandbox
// mode: a name is never trusted to be a single path component).
//
// Each returns 0 when the name may be used, else the positive errno to give the
// guest. They allocate nothing and never fail otherwise.

#ifndef VIRTIOFSD_COMMON_FS_NAMES_H_
#define VIRTIOFSD_COMMON_FS_NAMES_H_

#include <string_view>

namespace virtiofsd {

// One directory entry name, used beneath a directory the broker holds open.
//   EINVAL        empty, ".", "..", or containing '/' or NUL;
//   ENAMETOOLONG  longer than NAME_MAX (as the kernel says for a long component).
int CheckEntryName(std::string_view name);

// The target of a new symlink (stored, never followed by the broker).
//   ENOENT        empty (as symlink(2) says);
//   EINVAL        containing NUL;
//   ENAMETOOLONG  PATH_MAX bytes or longer.
int CheckSymlinkTarget(std::string_view target);

// An extended attribute name.
//   ERANGE        empty or longer than XATTR_NAME_MAX (as setxattr(2) says);
//   EINVAL        containing NUL.
int CheckXattrName(std::string_view name);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_COMMON_FS_NAMES_H_
