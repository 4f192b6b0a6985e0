#include "frontend/fuse_xattr_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::Name;
using testing::SessionHarness;

FsConfig WithXattr() {
  FsConfig config;
  config.xattr = true;
  return config;
}

std::string SetxattrArgs(const std::string& name, const std::string& value) {
  fuse_setxattr_in in{};
  in.size = static_cast<uint32_t>(value.size());
  return std::string(reinterpret_cast<const char*>(&in), FUSE_COMPAT_SETXATTR_IN_SIZE) +
         Name(name) + value;
}

class FuseXattrOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(close(creat(harness_.dir().Path("f").c_str(), 0644)), 0);
    node_ = harness_.broker().Lookup(1, "f").reply.entry().node();
    if (setxattr(harness_.dir().Path("f").c_str(), "user.probe", "1", 1, 0) != 0) {
      GTEST_SKIP() << "no user xattrs on the test's filesystem";
    }
  }

  SessionHarness harness_{FuseOptions{}, WithXattr()};
  uint64_t node_ = 0;
};

TEST_F(FuseXattrOpsTest, SetGetListRemove) {
  EXPECT_EQ(harness_.Call(&fuse_op::Setxattr, FUSE_SETXATTR, node_, SetxattrArgs("user.k", "value"))
                .error,
            0);
  FuseReply size = harness_.Call(&fuse_op::Getxattr, FUSE_GETXATTR, node_,
                                 Arg(fuse_getxattr_in{0, 0}) + Name("user.k"));
  ASSERT_EQ(size.error, 0);
  EXPECT_EQ(size.As<fuse_getxattr_out>().size, 5u);
  FuseReply value = harness_.Call(&fuse_op::Getxattr, FUSE_GETXATTR, node_,
                                  Arg(fuse_getxattr_in{64, 0}) + Name("user.k"));
  ASSERT_EQ(value.error, 0);
  EXPECT_EQ(value.payload, "value");
  EXPECT_EQ(harness_
                .Call(&fuse_op::Getxattr, FUSE_GETXATTR, node_,
                      Arg(fuse_getxattr_in{2, 0}) + Name("user.k"))
                .error,
            ERANGE);
  FuseReply list =
      harness_.Call(&fuse_op::Listxattr, FUSE_LISTXATTR, node_, Arg(fuse_getxattr_in{256, 0}));
  ASSERT_EQ(list.error, 0);
  EXPECT_NE(list.payload.find(std::string("user.k\0", 7)), std::string::npos);
  EXPECT_EQ(harness_.Call(&fuse_op::Removexattr, FUSE_REMOVEXATTR, node_, Name("user.k")).error, 0);
  EXPECT_EQ(harness_.Call(&fuse_op::Removexattr, FUSE_REMOVEXATTR, node_, Name("user.k")).error,
            ENODATA);
}

TEST_F(FuseXattrOpsTest, MalformedArgumentsAreEinval) {
  std::string args = SetxattrArgs("user.k", "value");
  args.pop_back();  // The value is shorter than its size says.
  EXPECT_EQ(harness_.Call(&fuse_op::Setxattr, FUSE_SETXATTR, node_, args).error, EINVAL);
  EXPECT_EQ(harness_.Call(&fuse_op::Getxattr, FUSE_GETXATTR, node_, "x").error, EINVAL);
  EXPECT_EQ(harness_.Call(&fuse_op::Removexattr, FUSE_REMOVEXATTR, node_, "no-nul").error, EINVAL);
  EXPECT_EQ(harness_.Call(&fuse_op::Listxattr, FUSE_LISTXATTR, node_, "").error, EINVAL);
}

TEST_F(FuseXattrOpsTest, ExtendedSetxattrArgumentOnlyAfterItWasNegotiated) {
  fuse_setxattr_in in{};
  in.size = 1;
  const std::string extended = Arg(in) + Name("user.k") + "v";
  // Without SETXATTR_EXT the last 8 bytes of the extended struct are read as the name.
  EXPECT_NE(harness_.Call(&fuse_op::Setxattr, FUSE_SETXATTR, node_, extended).error, 0);
  harness_.context().setxattr_ext = true;
  EXPECT_EQ(harness_.Call(&fuse_op::Setxattr, FUSE_SETXATTR, node_, extended).error, 0);
  char value[4] = {};
  EXPECT_EQ(getxattr(harness_.dir().Path("f").c_str(), "user.k", value, sizeof(value)), 1);
}

TEST_F(FuseXattrOpsTest, SecurityCapabilityMarksOpenFilesForKillPriv) {
  SessionHarness::OpenedFile file = harness_.CreateAndOpen("g", "", O_RDWR);
  ASSERT_FALSE(harness_.context().open_files().Get(file.handle)->kill_priv.load());
  // A capability blob (v2, no bits): refused or not by the host, a success marks.
  std::string cap(20, '\0');
  cap[3] = 0x02;
  FuseReply reply = harness_.Call(&fuse_op::Setxattr, FUSE_SETXATTR, file.node,
                                  SetxattrArgs("security.capability", cap));
  if (reply.error != 0) GTEST_SKIP() << "the host refused security.capability: " << reply.error;
  EXPECT_TRUE(harness_.context().open_files().Get(file.handle)->kill_priv.load());
}

}  // namespace
}  // namespace virtiofsd
