// The FUSE bit values broker.proto names (so the broker needs no FUSE header)
// are linux/fuse.h's: the frontend copies the guest's bits unchanged.

#include <linux/fuse.h>

#include "gtest/gtest.h"
#include "proto/broker.pb.h"

namespace virtiofsd::proto {
namespace {

TEST(FuseBitsTest, TheProtosNamesHaveTheKernelsValues) {
  EXPECT_EQ(SETATTR_MODE, FATTR_MODE);
  EXPECT_EQ(SETATTR_UID, FATTR_UID);
  EXPECT_EQ(SETATTR_GID, FATTR_GID);
  EXPECT_EQ(SETATTR_SIZE, FATTR_SIZE);
  EXPECT_EQ(SETATTR_ATIME, FATTR_ATIME);
  EXPECT_EQ(SETATTR_MTIME, FATTR_MTIME);
  EXPECT_EQ(SETATTR_FH, FATTR_FH);
  EXPECT_EQ(SETATTR_ATIME_NOW, FATTR_ATIME_NOW);
  EXPECT_EQ(SETATTR_MTIME_NOW, FATTR_MTIME_NOW);
  EXPECT_EQ(SETATTR_KILL_SUIDGID, FATTR_KILL_SUIDGID);
  EXPECT_EQ(OPEN_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID);
  EXPECT_EQ(RELEASE_FLUSH, FUSE_RELEASE_FLUSH);
  EXPECT_EQ(RELEASE_FLOCK_UNLOCK, FUSE_RELEASE_FLOCK_UNLOCK);
  EXPECT_EQ(SETXATTR_ACL_KILL_SGID, FUSE_SETXATTR_ACL_KILL_SGID);
  EXPECT_EQ(ATTR_SUBMOUNT, FUSE_ATTR_SUBMOUNT);
}

}  // namespace
}  // namespace virtiofsd::proto
