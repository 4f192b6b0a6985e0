#include "frontend/fuse_session.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>

#include "frontend/fuse_opcodes.h"
#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::RequestSpec;
using testing::SessionHarness;

class FuseSessionTest : public ::testing::Test {
 protected:
  FuseReply Send(uint32_t opcode, std::string args = "", uint64_t nodeid = 1) {
    return harness_.Wait(
        harness_.Send(session_, {.opcode = opcode, .nodeid = nodeid, .args = std::move(args)}));
  }
  void Init() {
    fuse_init_in in{};
    in.major = FUSE_KERNEL_VERSION;
    in.minor = FUSE_KERNEL_MINOR_VERSION;
    ASSERT_EQ(Send(FUSE_INIT, Arg(in)).error, 0);
    ASSERT_TRUE(session_.initialized());
  }

  SessionHarness harness_;
  FuseSession session_{harness_.broker().client(), FuseOptions{}};
};

TEST_F(FuseSessionTest, NothingButInitBeforeInit) {
  EXPECT_FALSE(session_.initialized());
  EXPECT_EQ(Send(FUSE_GETATTR, Arg(fuse_getattr_in{})).error, EIO);
  EXPECT_EQ(Send(FUSE_BMAP).error, ENOSYS);
  Init();
  EXPECT_EQ(Send(FUSE_GETATTR, Arg(fuse_getattr_in{})).error, 0);
  EXPECT_EQ(Send(FUSE_DESTROY).error, 0);
  EXPECT_FALSE(session_.initialized());
  EXPECT_EQ(Send(FUSE_GETATTR, Arg(fuse_getattr_in{})).error, EIO);
}

TEST_F(FuseSessionTest, UnservedAndUnknownOpcodesAreEnosys) {
  Init();
  int unserved = 0;
  for (const FuseOpcodeRow& row : kFuseOpcodes) {
    if (row.served) continue;
    ++unserved;
    EXPECT_EQ(Send(row.opcode, std::string(64, '\0')).error, ENOSYS) << row.name;
  }
  EXPECT_GE(unserved, 5);
  EXPECT_EQ(Send(9999).error, ENOSYS);
  EXPECT_EQ(Send(0).error, ENOSYS);
}

// Each served opcode reaches its handler: an empty argument gets the handler's
// answer (EINVAL for a short argument, or the broker's), never ENOSYS.
TEST_F(FuseSessionTest, EveryServedOpcodeIsDispatched) {
  Init();
  for (const FuseOpcodeRow& row : kFuseOpcodes) {
    if (!row.served || row.opcode == FUSE_DESTROY) continue;
    FuseReply reply = Send(row.opcode);
    ASSERT_TRUE(reply.completed) << row.name;
    if (row.opcode == FUSE_FORGET || row.opcode == FUSE_BATCH_FORGET ||
        row.opcode == FUSE_INTERRUPT) {
      EXPECT_EQ(reply.written, 0u) << row.name;  // No reply, by the protocol.
    } else {
      EXPECT_NE(reply.error, ENOSYS) << row.name;
      EXPECT_GE(reply.written, sizeof(fuse_out_header)) << row.name;
    }
  }
  EXPECT_TRUE(session_.initialized());
}

TEST_F(FuseSessionTest, QueueStoppingEndsItsLockWaits) {
  Init();
  SessionHarness::OpenedFile file = harness_.CreateAndOpen("f", "", O_RDWR);
  // The open went around the session: take the file's lock through the broker.
  proto::Request hold;
  hold.mutable_setlk()->set_handle(file.handle);
  hold.mutable_setlk()->set_lock_owner(1);
  hold.mutable_setlk()->mutable_lock()->set_type(F_WRLCK);
  hold.mutable_setlk()->mutable_lock()->set_end(9);
  ASSERT_EQ(harness_.broker().Call(std::move(hold)).error, 0);
  fuse_lk_in in{};
  in.fh = file.handle;
  in.owner = 2;
  in.lk.type = F_WRLCK;
  in.lk.end = 9;
  const int wait = harness_.Send(session_, {.opcode = FUSE_SETLKW, .args = Arg(in), .queue = 3});
  session_.QueueStopping(1);
  EXPECT_FALSE(harness_.Done(wait));
  session_.QueueStopping(3);
  EXPECT_EQ(harness_.Wait(wait).error, EINTR);
}

}  // namespace
}  // namespace virtiofsd
