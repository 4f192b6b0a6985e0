#include "broker/share_mount.h"

#include <fcntl.h>

#include "broker/testing/test_broker.h"
#include "common/status_matchers.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

constexpr char kMountinfo[] =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "31 22 0:27 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "40 22 254:0 /srv/share /mnt/share rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "41 22 0:40 /@home /home rw,relatime shared:30 - btrfs /dev/vdb rw,subvol=/@home\n";

TEST(MountRootInMountinfoTest, FindsTheRootFieldOfTheMount) {
  EXPECT_EQ(MountRootInMountinfo(kMountinfo, 22), "/");
  EXPECT_EQ(MountRootInMountinfo(kMountinfo, 31), "/");
  EXPECT_EQ(MountRootInMountinfo(kMountinfo, 40), "/srv/share");
  EXPECT_EQ(MountRootInMountinfo(kMountinfo, 41), "/@home");
  EXPECT_EQ(MountRootInMountinfo(kMountinfo, 4), std::nullopt);
  EXPECT_EQ(MountRootInMountinfo("garbage\n\n1 2\n", 1), std::nullopt);
}

TEST(IsFilesystemRootTest, ProcIsASubdirectoryIsNot) {
  UniqueFd proc(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(proc.valid());
  ASSERT_OK_AND_ASSIGN(bool proc_root, IsFilesystemRoot(proc.get()));
  EXPECT_TRUE(proc_root);
  testing::TempDir tmp;
  UniqueFd dir(open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_OK_AND_ASSIGN(bool tmp_root, IsFilesystemRoot(dir.get()));
  EXPECT_FALSE(tmp_root);
}

TEST(MountIsNodevTest, ProcIsNodev) {
  UniqueFd proc(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_OK_AND_ASSIGN(bool nodev, MountIsNodev(proc.get()));
  EXPECT_TRUE(nodev);
}

}  // namespace
}  // namespace virtiofsd
