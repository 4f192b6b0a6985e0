#include "frontend/fuse_data_path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "frontend/testing/session_harness.h"
#include "frontend/worker_pool.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::ReadIn;
using testing::RequestSpec;
using testing::SessionHarness;

RequestSpec WriteSpec(uint64_t fh, uint64_t offset, const std::string& data, uint32_t flags = 0) {
  fuse_write_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = static_cast<uint32_t>(data.size());
  in.write_flags = flags;
  return {.opcode = FUSE_WRITE, .args = Arg(in), .write_data = data};
}

std::string Contents(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(FuseDataPathTest, ReadFillsTheReplyBuffersFromTheFile) {
  SessionHarness harness;
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "0123456789", O_RDONLY);
  FuseReply reply = harness.Call(&fuse_op::Read, {.opcode = FUSE_READ,
                                                  .args = Arg(ReadIn(file.handle, 2, 100)),
                                                  .reply_room = 64,
                                                  .reply_pieces = 3});
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.payload, "23456789");
  EXPECT_EQ(reply.written, sizeof(fuse_out_header) + 8);
}

TEST(FuseDataPathTest, ReadChecksHandleAndSize) {
  SessionHarness harness;
  EXPECT_EQ(harness.Call(&fuse_op::Read, FUSE_READ, 1, Arg(ReadIn(77, 0, 10))).error, EBADF);
  EXPECT_EQ(harness.Call(&fuse_op::Read, FUSE_READ, 1, Arg(ReadIn(77, 0, kMaxIoBytes + 1))).error,
            EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Read, FUSE_READ, 1, "short").error, EINVAL);
}

TEST(FuseDataPathTest, WriteOnAWorkerReachesTheFile) {
  WorkerPool pool(2);
  SessionHarness harness({}, {}, &pool);
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "aaaaaa", O_RDWR);
  FuseReply reply = harness.Call(&fuse_op::Write, WriteSpec(file.handle, 2, "XY"));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_write_out>().size, 2u);
  EXPECT_EQ(Contents(harness.dir().Path("f")), "aaXYaa");
}

TEST(FuseDataPathTest, WriteWhoseSizeDisagreesWithItsDataIsEinval) {
  SessionHarness harness;
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "", O_RDWR);
  RequestSpec spec = WriteSpec(file.handle, 0, "abc");
  spec.write_data = "abcd";
  EXPECT_EQ(harness.Call(&fuse_op::Write, spec).error, EINVAL);
  EXPECT_EQ(harness.Call(&fuse_op::Write, WriteSpec(99, 0, "abc")).error, EBADF);
  EXPECT_EQ(Contents(harness.dir().Path("f")), "");
}

TEST(FuseDataPathTest, KillPrivGoesToTheBrokerBeforeTheData) {
  SessionHarness harness;
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "", O_RDWR);
  harness.context().open_files().NeedKillPriv(file.node);
  ASSERT_EQ(harness.Call(&fuse_op::Write, WriteSpec(file.handle, 0, "x")).error, 0);
  EXPECT_FALSE(harness.context().open_files().Get(file.handle)->kill_priv.load());
  // A handle the broker does not know: its Setattr fails, and so does the WRITE,
  // before any byte is written.
  UniqueFd fd(open(harness.dir().Path("f").c_str(), O_RDWR | O_CLOEXEC));
  harness.context().open_files().Insert(4242, std::move(fd), file.node, /*kill_priv=*/true);
  EXPECT_EQ(harness.Call(&fuse_op::Write, WriteSpec(4242, 0, "y")).error, EBADF);
  EXPECT_EQ(Contents(harness.dir().Path("f")), "x");
}

// Drops CAP_FSETID from this thread, as the frontend runs: the kernel then
// clears set-id bits on every write.
void DropFsetid() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  ASSERT_EQ(syscall(SYS_capget, &header, data), 0);
  data[0].effective &= ~(1u << CAP_FSETID);
  ASSERT_EQ(syscall(SYS_capset, &header, data), 0);
}

TEST(FuseDataPathTest, RootWriterKeepsSetIdBitsUnlessTheGuestSaysKill) {
  if (geteuid() != 0) GTEST_SKIP() << "the guest root writer is uid 0";
  SessionHarness harness;
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "", O_RDWR);
  ASSERT_EQ(chmod(harness.dir().Path("f").c_str(), 04755), 0);
  FuseReply reply;
  std::thread([&] {
    DropFsetid();
    reply = harness.Call(&fuse_op::Write, WriteSpec(file.handle, 0, "data"));
  }).join();
  ASSERT_EQ(reply.error, 0);
  struct stat st;
  ASSERT_EQ(stat(harness.dir().Path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);

  std::thread([&] {
    DropFsetid();
    reply =
        harness.Call(&fuse_op::Write, WriteSpec(file.handle, 0, "more", FUSE_WRITE_KILL_SUIDGID));
  }).join();
  ASSERT_EQ(reply.error, 0);
  ASSERT_EQ(stat(harness.dir().Path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace virtiofsd
