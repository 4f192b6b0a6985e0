#include "frontend/fuse_name_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::Name;
using testing::SessionHarness;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST(FuseNameOpsTest, MkdirMknodSymlinkMakeTheirEntries) {
  SessionHarness harness;
  fuse_mkdir_in mkdir{0777, 022};
  FuseReply reply = harness.Call(&fuse_op::Mkdir, FUSE_MKDIR, 1, Arg(mkdir) + Name("d"));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_entry_out>().attr.mode, S_IFDIR | 0755u);  // umask applied
  fuse_mknod_in mknod{};
  mknod.mode = S_IFIFO | 0640;
  reply = harness.Call(&fuse_op::Mknod, FUSE_MKNOD, 1, Arg(mknod) + Name("p"));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_entry_out>().attr.mode, S_IFIFO | 0640u);
  reply = harness.Call(&fuse_op::Symlink, FUSE_SYMLINK, 1, Name("l") + Name("d"));
  ASSERT_EQ(reply.error, 0);
  char target[16] = {};
  ASSERT_EQ(readlink(harness.dir().Path("l").c_str(), target, sizeof(target)), 1);
  EXPECT_STREQ(target, "d");
  EXPECT_EQ(harness.Call(&fuse_op::Mkdir, FUSE_MKDIR, 1, Arg(mkdir) + Name("d")).error, EEXIST);
}

TEST(FuseNameOpsTest, BadNamesNeverReachTheShare) {
  SessionHarness harness;
  fuse_mkdir_in mkdir{0755, 0};
  EXPECT_EQ(harness.Call(&fuse_op::Mkdir, FUSE_MKDIR, 1, Arg(mkdir) + Name("..")).error, EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Mkdir, FUSE_MKDIR, 1, Arg(mkdir) + Name("a/b")).error, EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Symlink, FUSE_SYMLINK, 1, Name("/abs") + Name("x")).error,
            EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Symlink, FUSE_SYMLINK, 1, Name("only-name")).error, EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Unlink, FUSE_UNLINK, 1, "no-nul").error, EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Mkdir, FUSE_MKDIR, 1, "short").error, EINVAL);
  EXPECT_FALSE(Exists(harness.dir().Path("a")));
}

TEST(FuseNameOpsTest, UnlinkRmdirRenameLink) {
  SessionHarness harness;
  ASSERT_EQ(mkdir(harness.dir().Path("d").c_str(), 0755), 0);
  ASSERT_EQ(close(creat(harness.dir().Path("f").c_str(), 0644)), 0);
  FuseReply f = harness.Call(&fuse_op::Link, FUSE_LINK, 1, "");  // short
  EXPECT_EQ(f.error, EINVAL);
  const uint64_t node = harness.broker().Lookup(1, "f").reply.entry().node();
  FuseReply link = harness.Call(&fuse_op::Link, FUSE_LINK, 1, Arg(fuse_link_in{node}) + Name("g"));
  ASSERT_EQ(link.error, 0);
  EXPECT_EQ(link.As<fuse_entry_out>().attr.nlink, 2u);
  fuse_rename_in rename{1};
  EXPECT_EQ(
      harness.Call(&fuse_op::Rename, FUSE_RENAME, 1, Arg(rename) + Name("g") + Name("h")).error, 0);
  EXPECT_TRUE(Exists(harness.dir().Path("h")));
  fuse_rename2_in noreplace{1, RENAME_NOREPLACE, 0};
  EXPECT_EQ(harness.Call(&fuse_op::Rename2, FUSE_RENAME2, 1, Arg(noreplace) + Name("h") + Name("f"))
                .error,
            EEXIST);
  EXPECT_EQ(harness.Call(&fuse_op::Unlink, FUSE_UNLINK, 1, Name("h")).error, 0);
  EXPECT_EQ(harness.Call(&fuse_op::Rmdir, FUSE_RMDIR, 1, Name("f")).error, ENOTDIR);
  EXPECT_EQ(harness.Call(&fuse_op::Rmdir, FUSE_RMDIR, 1, Name("d")).error, 0);
  EXPECT_FALSE(Exists(harness.dir().Path("h")));
  EXPECT_FALSE(Exists(harness.dir().Path("d")));
}

}  // namespace
}  // namespace virtiofsd
