#include "frontend/fuse_file_ops.h"

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

fuse_create_in CreateIn(uint32_t flags, uint32_t mode, uint32_t umask = 0) {
  fuse_create_in in{};
  in.flags = flags;
  in.mode = mode;
  in.umask = umask;
  return in;
}

TEST(FuseFileOpsTest, CreateRecordsTheFdForTheDataPath) {
  FuseOptions options;
  options.cache = CachePolicy::kNever;
  SessionHarness harness(options);
  FuseReply reply = harness.Call(&fuse_op::Create, FUSE_CREATE, 1,
                                 Arg(CreateIn(O_RDWR | O_CREAT, S_IFREG | 0666, 022)) + Name("f"));
  ASSERT_EQ(reply.error, 0);
  ASSERT_EQ(reply.payload.size(), sizeof(fuse_entry_out) + sizeof(fuse_open_out));
  const auto entry = reply.As<fuse_entry_out>();
  fuse_open_out open;
  memcpy(&open, reply.payload.data() + sizeof(entry), sizeof(open));
  EXPECT_EQ(entry.attr.mode, S_IFREG | 0644u);
  EXPECT_TRUE(open.open_flags & FOPEN_DIRECT_IO);
  std::shared_ptr<const OpenFile> file = harness.context().open_files().Get(open.fh);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->node, entry.nodeid);
  ASSERT_EQ(write(file->fd.get(), "hi", 2), 2);
  struct stat st;
  ASSERT_EQ(stat(harness.dir().Path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 2);
  EXPECT_EQ(harness
                .Call(&fuse_op::Create, FUSE_CREATE, 1,
                      Arg(CreateIn(O_RDWR | O_CREAT, S_IFREG | 0644)) + Name(".."))
                .error,
            EINVAL);
}

TEST(FuseFileOpsTest, OpenFlushFsyncReleaseForgetsTheFd) {
  SessionHarness harness;
  ASSERT_EQ(close(creat(harness.dir().Path("f").c_str(), 0644)), 0);
  const uint64_t node = harness.broker().Lookup(1, "f").reply.entry().node();
  fuse_open_in open_in{};
  open_in.flags = O_RDWR;
  FuseReply reply = harness.Call(&fuse_op::Open, FUSE_OPEN, node, Arg(open_in));
  ASSERT_EQ(reply.error, 0);
  const uint64_t fh = reply.As<fuse_open_out>().fh;
  ASSERT_NE(harness.context().open_files().Get(fh), nullptr);
  fuse_flush_in flush{};
  flush.fh = fh;
  EXPECT_EQ(harness.Call(&fuse_op::Flush, FUSE_FLUSH, node, Arg(flush)).error, 0);
  fuse_fsync_in fsync{};
  fsync.fh = fh;
  fsync.fsync_flags = 1;
  EXPECT_EQ(harness.Call(&fuse_op::Fsync, FUSE_FSYNC, node, Arg(fsync)).error, 0);
  fuse_release_in release{};
  release.fh = fh;
  EXPECT_EQ(harness.Call(&fuse_op::Release, FUSE_RELEASE, node, Arg(release)).error, 0);
  EXPECT_EQ(harness.context().open_files().Get(fh), nullptr);
  EXPECT_EQ(harness.Call(&fuse_op::Flush, FUSE_FLUSH, node, Arg(flush)).error, EBADF);
  EXPECT_EQ(harness.Call(&fuse_op::Open, FUSE_OPEN, node, "").error, EINVAL);
}

TEST(FuseFileOpsTest, FallocateLseekCopyFileRange) {
  SessionHarness harness;
  SessionHarness::OpenedFile src = harness.CreateAndOpen("src", "0123456789", O_RDWR);
  SessionHarness::OpenedFile dst = harness.CreateAndOpen("dst", "", O_RDWR);
  fuse_fallocate_in fallocate{};
  fallocate.fh = dst.handle;
  fallocate.length = 4096;
  EXPECT_EQ(harness.Call(&fuse_op::Fallocate, FUSE_FALLOCATE, dst.node, Arg(fallocate)).error, 0);
  fuse_lseek_in lseek{};
  lseek.fh = src.handle;
  lseek.offset = 3;
  lseek.whence = SEEK_DATA;
  FuseReply reply = harness.Call(&fuse_op::Lseek, FUSE_LSEEK, src.node, Arg(lseek));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_lseek_out>().offset, 3u);
  fuse_copy_file_range_in copy{};
  copy.fh_in = src.handle;
  copy.off_in = 2;
  copy.fh_out = dst.handle;
  copy.off_out = 0;
  copy.len = 5;
  reply = harness.Call(&fuse_op::CopyFileRange, FUSE_COPY_FILE_RANGE, src.node, Arg(copy));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_write_out>().size, 5u);
  char data[6] = {};
  UniqueFd fd(open(harness.dir().Path("dst").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(pread(fd.get(), data, 5, 0), 5);
  EXPECT_STREQ(data, "23456");
}

TEST(FuseFileOpsTest, TmpfileIsAnUnnamedOpenFile) {
  SessionHarness harness;
  FuseReply reply =
      harness.Call(&fuse_op::Tmpfile, FUSE_TMPFILE, 1, Arg(CreateIn(O_RDWR, S_IFREG | 0600)));
  if (reply.error == EOPNOTSUPP) GTEST_SKIP() << "no O_TMPFILE on the test's filesystem";
  ASSERT_EQ(reply.error, 0);
  fuse_open_out open;
  memcpy(&open, reply.payload.data() + sizeof(fuse_entry_out), sizeof(open));
  EXPECT_NE(harness.context().open_files().Get(open.fh), nullptr);
  EXPECT_EQ(harness.Call(&fuse_op::Tmpfile, FUSE_TMPFILE, 1, "").error, EINVAL);
}

}  // namespace
}  // namespace virtiofsd
