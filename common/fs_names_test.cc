#include "common/fs_names.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using namespace std::string_view_literals;

TEST(CheckEntryNameTest, AcceptsOrdinaryNames) {
  EXPECT_EQ(CheckEntryName("a"), 0);
  EXPECT_EQ(CheckEntryName("..."), 0);
  EXPECT_EQ(CheckEntryName(".hidden"), 0);
  EXPECT_EQ(CheckEntryName("a..b"), 0);
  EXPECT_EQ(CheckEntryName("\xff\xfe"), 0);
  EXPECT_EQ(CheckEntryName(std::string(NAME_MAX, 'x')), 0);
}

TEST(CheckEntryNameTest, RefusesWhatIsNotOneComponent) {
  EXPECT_EQ(CheckEntryName(""), EINVAL);
  EXPECT_EQ(CheckEntryName("."), EINVAL);
  EXPECT_EQ(CheckEntryName(".."), EINVAL);
  EXPECT_EQ(CheckEntryName("/"), EINVAL);
  EXPECT_EQ(CheckEntryName("/etc/passwd"), EINVAL);
  EXPECT_EQ(CheckEntryName("../x"), EINVAL);
  EXPECT_EQ(CheckEntryName("a/"), EINVAL);
  EXPECT_EQ(CheckEntryName("a\0b"sv), EINVAL);
  EXPECT_EQ(CheckEntryName("\0"sv), EINVAL);
  EXPECT_EQ(CheckEntryName("a\0"sv), EINVAL);
}

TEST(CheckEntryNameTest, TooLongIsWhatTheKernelSays) {
  const std::string name(NAME_MAX + 1, 'x');
  EXPECT_EQ(CheckEntryName(name), ENAMETOOLONG);
  // The kernel's own answer for the same name.
  EXPECT_EQ(mkdirat(AT_FDCWD, ("/tmp/" + name).c_str(), 0700), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

TEST(CheckSymlinkTargetTest, Limits) {
  EXPECT_EQ(CheckSymlinkTarget("/etc/passwd"), 0);
  EXPECT_EQ(CheckSymlinkTarget("../../x"), 0);
  EXPECT_EQ(CheckSymlinkTarget(std::string(PATH_MAX - 1, 'x')), 0);
  EXPECT_EQ(CheckSymlinkTarget(""), ENOENT);
  EXPECT_EQ(CheckSymlinkTarget("a\0b"sv), EINVAL);
  EXPECT_EQ(CheckSymlinkTarget(std::string(PATH_MAX, 'x')), ENAMETOOLONG);
}

TEST(CheckSymlinkTargetTest, EmptyIsWhatTheKernelSays) {
  EXPECT_EQ(symlink("", "/tmp/fs_names_test_never_created"), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST(CheckXattrNameTest, Limits) {
  EXPECT_EQ(CheckXattrName("user.a"), 0);
  EXPECT_EQ(CheckXattrName(std::string(XATTR_NAME_MAX, 'x')), 0);
  EXPECT_EQ(CheckXattrName(""), ERANGE);
  EXPECT_EQ(CheckXattrName(std::string(XATTR_NAME_MAX + 1, 'x')), ERANGE);
  EXPECT_EQ(CheckXattrName("user.a\0b"sv), EINVAL);
}

TEST(CheckXattrNameTest, RangeIsWhatTheKernelSays) {
  const std::string name = "user." + std::string(XATTR_NAME_MAX, 'x');
  EXPECT_EQ(getxattr("/", name.c_str(), nullptr, 0), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(CheckXattrName(name), ERANGE);
}

}  // namespace
}  // namespace virtiofsd
