#include "frontend/fuse_node_ops.h"

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

class FuseNodeOpsTest : public ::testing::Test {
 protected:
  uint64_t Lookup(const std::string& name) {
    FuseReply reply = harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, 1, Name(name));
    EXPECT_EQ(reply.error, 0) << name;
    return reply.As<fuse_entry_out>().nodeid;
  }
  // The broker's answer to a Getattr of `node`: 0 while it knows the node.
  int BrokerKnows(uint64_t node) { return harness_.broker().Getattr(node).error; }

  SessionHarness harness_;
};

TEST_F(FuseNodeOpsTest, LookupAnswersTheEntryOrTheNameCheck) {
  ASSERT_EQ(mkdir(harness_.dir().Path("d").c_str(), 0750), 0);
  FuseReply reply = harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, 1, Name("d"));
  ASSERT_EQ(reply.error, 0);
  const auto entry = reply.As<fuse_entry_out>();
  EXPECT_NE(entry.nodeid, 0u);
  EXPECT_EQ(entry.attr.mode, S_IFDIR | 0750u);
  EXPECT_EQ(entry.entry_valid, harness_.context().timeout());
  EXPECT_EQ(harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, 1, Name("absent")).error, ENOENT);
  EXPECT_EQ(harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, 1, Name("a/b")).error, EINVAL);
  EXPECT_EQ(harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, 1, "no-nul").error, EINVAL);
}

TEST_F(FuseNodeOpsTest, ForgetAndBatchForgetReleaseTheBrokersNodes) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(mkdir(harness_.dir().Path(name).c_str(), 0755), 0);
  }
  const uint64_t a = Lookup("a"), b = Lookup("b"), c = Lookup("c");
  fuse_forget_in forget{1};
  FuseReply reply = harness_.Call(&fuse_op::Forget, FUSE_FORGET, a, Arg(forget));
  EXPECT_TRUE(reply.completed);
  EXPECT_EQ(reply.written, 0u);
  fuse_batch_forget_in batch{2, 0};
  FuseReply batched =
      harness_.Call(&fuse_op::BatchForget, FUSE_BATCH_FORGET, 0,
                    Arg(batch) + Arg(fuse_forget_one{b, 1}) + Arg(fuse_forget_one{c, 1}));
  EXPECT_EQ(batched.written, 0u);
  // One-way requests: a later reply proves they were served.
  EXPECT_EQ(BrokerKnows(1), 0);
  EXPECT_NE(BrokerKnows(a), 0);
  EXPECT_NE(BrokerKnows(b), 0);
  EXPECT_NE(BrokerKnows(c), 0);
}

TEST_F(FuseNodeOpsTest, MalformedBatchForgetIsIgnored) {
  ASSERT_EQ(mkdir(harness_.dir().Path("a").c_str(), 0755), 0);
  const uint64_t a = Lookup("a");
  fuse_batch_forget_in batch{3, 0};  // Claims three, carries one.
  FuseReply reply = harness_.Call(&fuse_op::BatchForget, FUSE_BATCH_FORGET, 0,
                                  Arg(batch) + Arg(fuse_forget_one{a, 1}));
  EXPECT_EQ(reply.written, 0u);
  EXPECT_EQ(BrokerKnows(a), 0);
}

TEST_F(FuseNodeOpsTest, GetattrAndSetattr) {
  ASSERT_EQ(close(creat(harness_.dir().Path("f").c_str(), 0600)), 0);
  const uint64_t f = Lookup("f");
  FuseReply reply = harness_.Call(&fuse_op::Getattr, FUSE_GETATTR, f, Arg(fuse_getattr_in{}));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_attr_out>().attr.mode, S_IFREG | 0600u);
  fuse_setattr_in set{};
  set.valid = FATTR_MODE | FATTR_SIZE;
  set.mode = 0640;
  set.size = 123;
  reply = harness_.Call(&fuse_op::Setattr, FUSE_SETATTR, f, Arg(set));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_attr_out>().attr.mode, S_IFREG | 0640u);
  EXPECT_EQ(reply.As<fuse_attr_out>().attr.size, 123u);
  struct stat st;
  ASSERT_EQ(stat(harness_.dir().Path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 123);
  EXPECT_EQ(harness_.Call(&fuse_op::Setattr, FUSE_SETATTR, f, "short").error, EINVAL);
}

TEST_F(FuseNodeOpsTest, ReadlinkStatfsAccessSyncfs) {
  ASSERT_EQ(symlink("target/path", harness_.dir().Path("l").c_str()), 0);
  const uint64_t l = Lookup("l");
  FuseReply reply = harness_.Call(&fuse_op::Readlink, FUSE_READLINK, l, "");
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.payload, "target/path");
  reply = harness_.Call(&fuse_op::Statfs, FUSE_STATFS, 1, "");
  ASSERT_EQ(reply.error, 0);
  EXPECT_GT(reply.As<fuse_statfs_out>().st.bsize, 0u);
  EXPECT_EQ(reply.As<fuse_statfs_out>().st.namelen, 255u);
  EXPECT_EQ(harness_.Call(&fuse_op::Access, FUSE_ACCESS, 1, Arg(fuse_access_in{R_OK, 0})).error, 0);
  EXPECT_EQ(harness_.Call(&fuse_op::Access, FUSE_ACCESS, 1, "").error, EINVAL);
  EXPECT_EQ(harness_.Call(&fuse_op::Syncfs, FUSE_SYNCFS, 1, Arg(fuse_syncfs_in{})).error, 0);
}

}  // namespace
}  // namespace virtiofsd
