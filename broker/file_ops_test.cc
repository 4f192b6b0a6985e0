// The handlers of open files (file_ops.h) against the host kernel: open,
// create, tmpfile and the fds they return, flush, fsync, fallocate, lseek and
// copy_file_range, through the real channel (testing/conformance.h).

#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <set>
#include <string>

#include "broker/testing/conformance.h"
#include "broker/testing/test_broker.h"
#include "common/channel/broker_wire.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

class FileOpsTest : public ConformanceTest {};

// --- Open, Create, Tmpfile and the fds they return -------------------------------------

TEST_P(FileOpsTest, OpenReturnsARegularFileFdWithTheGuestsAccessMode) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "hello"); });
  const uint64_t f = NodeOf("f");
  Result r = b().Open(f, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_DIRECTORY);
  ASSERT_EQ(r.error, 0);
  ASSERT_TRUE(r.fd.valid());
  const int flags = fcntl(r.fd.get(), F_GETFL);
  EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
  EXPECT_TRUE(flags & O_APPEND);
  EXPECT_FALSE(flags & O_PATH);
  struct stat st;
  ASSERT_EQ(fstat(r.fd.get(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  char buf[8] = {};
  EXPECT_EQ(pread(r.fd.get(), buf, sizeof(buf), 0), 5);
  EXPECT_STREQ(buf, "hello");
  ASSERT_EQ(write(r.fd.get(), "!", 1), 1);
  EXPECT_EQ(b().Release(r.reply.open().handle()).error, 0);
  EXPECT_EQ(b().Release(r.reply.open().handle()).error, EBADF);
  Result ro = b().Open(f, O_RDONLY);
  ASSERT_EQ(ro.error, 0);
  EXPECT_EQ(write(ro.fd.get(), "x", 1), -1);
  EXPECT_EQ(b().Open(f, O_ACCMODE).error, EINVAL);
}

TEST_P(FileOpsTest, OpenErrorsAreTheKernelsAndOnlyRegularFilesOpen) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/secret", "x", 0600);
    mkdir((r + "/d").c_str(), 0755);
    mkfifo((r + "/fifo").c_str(), 0666);
    mknod((r + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
    symlink("secret", (r + "/link").c_str());
  });
  EXPECT_EQ(b().Open(NodeOf("d"), O_RDWR).error, Err(open(M("d").c_str(), O_RDWR)));
  // CVE-2020-35517: no device nodes, fifos or symlinks, whatever the host allows.
  EXPECT_EQ(b().Open(NodeOf("null"), O_RDWR).error, EACCES);
  EXPECT_EQ(b().Open(NodeOf("fifo"), O_RDONLY | O_NONBLOCK).error, EACCES);
  EXPECT_EQ(b().Open(NodeOf("link"), O_RDONLY).error, EACCES);
  // Read permission is the guest kernel's to check.
  const uint64_t secret = NodeOf("secret");
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Open(secret, O_RDONLY).error, 0);
  EXPECT_EQ(b().Open(NodeOf("null"), O_RDWR).error, EACCES);
}

TEST_P(FileOpsTest, CreateMakesAFileAndOpensIt) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/existing", "old data");
    mkdir((r + "/d").c_str(), 0755);
    mkdir((r + "/ro").c_str(), 0755);
  });
  b().SetCaller(0, 0, 022);
  Result c = b().Create(kRoot, "new", O_RDWR, 0666);
  ASSERT_EQ(c.error, 0);
  ASSERT_TRUE(c.fd.valid());
  EXPECT_EQ(c.reply.create().entry().attr().mode(), S_IFREG | 0644u);
  ASSERT_EQ(pwrite(c.fd.get(), "abc", 3, 0), 3);
  struct stat st;
  ASSERT_EQ(stat(S("new").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(c.reply.create().entry().node(), NodeOf("new"));
  // Existing file without O_EXCL: opened (and truncated); with O_EXCL: EEXIST.
  Result t = b().Create(kRoot, "existing", O_WRONLY | O_TRUNC, 0644);
  ASSERT_EQ(t.error, 0);
  ASSERT_EQ(stat(S("existing").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(b().Create(kRoot, "existing", O_RDWR | O_EXCL).error,
            Err(open(M("existing").c_str(), O_RDWR | O_CREAT | O_EXCL, 0644)));
  EXPECT_EQ(b().Create(kRoot, "d", O_RDWR).error,
            Err(open(M("d").c_str(), O_RDWR | O_CREAT, 0644)));
  // Write permission on the parent is the guest kernel's to check.
  b().SetCaller(kUser, kGroup);
  Result x = b().Create(NodeOf("ro"), "x", O_RDWR);
  EXPECT_EQ(x.error, 0);
  EXPECT_EQ(x.reply.create().entry().attr().uid(), kUser);
}

TEST_P(FileOpsTest, CreatedFilesBelongToTheCaller) {
  Start();
  chmod(share().c_str(), 0777);
  b().SetCaller(kUser, kGroup);
  ASSERT_EQ(b().Create(kRoot, "mine", O_RDWR).error, 0);
  ASSERT_EQ(b().Mkdir(kRoot, "mydir").error, 0);
  ASSERT_EQ(b().Symlink(kRoot, "mylink", "x").error, 0);
  for (const char* name : {"mine", "mydir", "mylink"}) {
    struct stat st;
    ASSERT_EQ(lstat(S(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUser) << name;
    EXPECT_EQ(st.st_gid, kGroup) << name;
  }
}

TEST_P(FileOpsTest, TmpfileIsAnUnnamedFile) {
  Start();
  proto::Request req;
  req.mutable_tmpfile()->set_parent(kRoot);
  req.mutable_tmpfile()->set_mode(0600);
  req.mutable_tmpfile()->set_flags(O_RDWR);
  Result r = b().Call(req);
  ASSERT_EQ(r.error, 0);
  ASSERT_TRUE(r.fd.valid());
  EXPECT_EQ(r.reply.create().entry().attr().nlink(), 0u);
  EXPECT_EQ(pwrite(r.fd.get(), "x", 1, 0), 1);
  req.mutable_tmpfile()->set_flags(O_RDONLY);
  EXPECT_EQ(b().Call(req).error, Err(open(mirror().c_str(), O_TMPFILE | O_RDONLY, 0600)));
}

TEST_P(FileOpsTest, WritebackTurnsWriteOnlyIntoReadWriteWithoutAppend) {
  FsConfig config;
  config.writeback = true;
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  Result r = b().Open(NodeOf("f"), O_WRONLY | O_APPEND);
  ASSERT_EQ(r.error, 0);
  const int flags = fcntl(r.fd.get(), F_GETFL);
  EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
  EXPECT_FALSE(flags & O_APPEND);
}

TEST_P(FileOpsTest, DirectIoOnlyWhenAllowed) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  Result r = b().Open(NodeOf("f"), O_RDONLY | O_DIRECT);
  ASSERT_EQ(r.error, 0);
  EXPECT_FALSE(fcntl(r.fd.get(), F_GETFL) & O_DIRECT);
  broker_.reset();
  FsConfig config;
  config.allow_direct_io = true;
  broker_ = std::make_unique<TestBroker>(share(), config, 2, GetParam());
  Result direct = b().Open(NodeOf("f"), O_RDONLY | O_DIRECT);
  ASSERT_EQ(direct.error, 0);
  EXPECT_TRUE(fcntl(direct.fd.get(), F_GETFL) & O_DIRECT);
}

TEST_P(FileOpsTest, FlushFsyncAndBadHandles) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  Result r = b().Open(NodeOf("f"), O_RDWR);
  ASSERT_EQ(r.error, 0);
  const uint64_t h = r.reply.open().handle();
  proto::Request flush;
  flush.mutable_flush()->set_handle(h);
  EXPECT_EQ(b().Call(flush).error, 0);
  proto::Request fsync_req;
  fsync_req.mutable_fsync()->set_handle(h);
  fsync_req.mutable_fsync()->set_datasync(true);
  EXPECT_EQ(b().Call(fsync_req).error, 0);
  fsync_req.mutable_fsync()->set_handle(h + 1);
  EXPECT_EQ(b().Call(fsync_req).error, EBADF);
  fsync_req.mutable_fsync()->set_handle(h ^ (uint64_t{1} << 32));
  EXPECT_EQ(b().Call(fsync_req).error, EBADF);
  // A directory handle is not a file handle, and the other way round.
  Result dir = b().Opendir(kRoot);
  fsync_req.mutable_fsync()->set_handle(dir.reply.opendir().handle());
  EXPECT_EQ(b().Call(fsync_req).error, EBADF);
  EXPECT_EQ(b().Readdir(h, 0, 4096, false).error, EBADF);
}

// --- Data-path helpers: fallocate, lseek, copy_file_range --------------------------------

TEST_P(FileOpsTest, FallocateLseekCopyFileRange) {
  SetUpBoth([](const std::string& r) {
    UniqueFd fd(open((r + "/sparse").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    pwrite(fd.get(), "data", 4, 1 << 20);
    WriteFile(r + "/dst", "");
  });
  Result src = b().Open(NodeOf("sparse"), O_RDWR);
  Result dst = b().Open(NodeOf("dst"), O_RDWR);
  ASSERT_EQ(src.error, 0);
  ASSERT_EQ(dst.error, 0);
  UniqueFd host(open(M("sparse").c_str(), O_RDWR | O_CLOEXEC));
  auto lseek_req = [&](int64_t offset, uint32_t whence) {
    proto::Request req;
    req.mutable_lseek()->set_handle(src.reply.open().handle());
    req.mutable_lseek()->set_offset(offset);
    req.mutable_lseek()->set_whence(whence);
    return b().Call(req);
  };
  Result data = lseek_req(0, SEEK_DATA);
  ASSERT_EQ(data.error, 0);
  EXPECT_EQ(static_cast<off_t>(data.reply.lseek().offset()), lseek(host.get(), 0, SEEK_DATA));
  Result hole = lseek_req(0, SEEK_HOLE);
  EXPECT_EQ(static_cast<off_t>(hole.reply.lseek().offset()), lseek(host.get(), 0, SEEK_HOLE));
  EXPECT_EQ(lseek_req(2 << 20, SEEK_DATA).error, Err(lseek(host.get(), 2 << 20, SEEK_DATA)));
  EXPECT_EQ(lseek_req(0, 17).error, EINVAL);

  proto::Request falloc;
  falloc.mutable_fallocate()->set_handle(dst.reply.open().handle());
  falloc.mutable_fallocate()->set_length(8192);
  EXPECT_EQ(b().Call(falloc).error, 0);
  struct stat st;
  stat(S("dst").c_str(), &st);
  EXPECT_EQ(st.st_size, 8192);
  falloc.mutable_fallocate()->set_mode(0x8000);
  EXPECT_EQ(b().Call(falloc).error, EOPNOTSUPP);
  falloc.mutable_fallocate()->set_mode(0);
  falloc.mutable_fallocate()->set_length(0);
  EXPECT_EQ(b().Call(falloc).error, Err(fallocate(host.get(), 0, 0, 0)));

  proto::Request copy;
  proto::CopyFileRangeRequest* c = copy.mutable_copy_file_range();
  c->set_handle_in(src.reply.open().handle());
  c->set_offset_in(1 << 20);
  c->set_handle_out(dst.reply.open().handle());
  c->set_offset_out(10);
  c->set_length(4);
  Result copied = b().Call(copy);
  ASSERT_EQ(copied.error, 0);
  EXPECT_EQ(copied.reply.copy_file_range().size(), 4u);
  char buf[5] = {};
  EXPECT_EQ(pread(dst.fd.get(), buf, 4, 10), 4);
  EXPECT_STREQ(buf, "data");
  c->set_flags(1);
  EXPECT_EQ(b().Call(copy).error, EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Broker, FileOpsTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
