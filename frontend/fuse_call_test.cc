#include "frontend/fuse_call.h"

#include <errno.h>
#include <linux/fuse.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::Name;
using testing::RequestSpec;
using testing::SessionHarness;

class FuseCallTest : public ::testing::Test {
 protected:
  // Decodes `spec`'s chain; `ticket` names it for Wait().
  std::unique_ptr<FuseCall> Decode(RequestSpec spec, int& ticket) {
    return FuseCall::Decode(harness_.MakeChain(spec, ticket));
  }

  SessionHarness harness_;
};

TEST_F(FuseCallTest, ArgumentsAreReadInOrder) {
  fuse_mkdir_in mkdir{};
  mkdir.mode = 0750;
  mkdir.umask = 022;
  int ticket;
  auto call = Decode({.opcode = FUSE_MKDIR, .nodeid = 7, .args = Arg(mkdir) + Name("dir") + "tail"},
                     ticket);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->in.opcode, FUSE_MKDIR);
  EXPECT_EQ(call->in.nodeid, 7u);
  fuse_mkdir_in in;
  ASSERT_TRUE(call->Arg(in));
  EXPECT_EQ(in.mode, 0750u);
  EXPECT_EQ(call->String(), "dir");
  EXPECT_EQ(call->Rest(), "tail");
  EXPECT_FALSE(call->String().has_value());  // "tail" has no NUL.
  fuse_mkdir_in more;
  EXPECT_FALSE(call->Arg(more));
  call->Reply(0);
  EXPECT_EQ(harness_.Wait(ticket).error, 0);
}

TEST_F(FuseCallTest, ShortArgumentIsNotReadAndShorterSizeZeroFills) {
  int ticket;
  auto call = Decode({.opcode = FUSE_SETXATTR, .args = std::string(8, '\x11')}, ticket);
  ASSERT_NE(call, nullptr);
  fuse_setxattr_in in;
  EXPECT_FALSE(call->Arg(in));
  EXPECT_TRUE(call->Arg(in, FUSE_COMPAT_SETXATTR_IN_SIZE));
  EXPECT_EQ(in.size, 0x11111111u);
  EXPECT_EQ(in.setxattr_flags, 0u);
  call->Malformed("test");
  EXPECT_EQ(harness_.Wait(ticket).error, EINVAL);
}

TEST_F(FuseCallTest, ReplyCarriesHeaderAndPartsAcrossBuffers) {
  int ticket;
  auto call = Decode({.opcode = FUSE_GETATTR, .reply_pieces = 3, .unique = 42}, ticket);
  ASSERT_NE(call, nullptr);
  call->Reply(0, {"abc", "defgh"});
  FuseReply reply = harness_.Wait(ticket);
  EXPECT_EQ(reply.written, sizeof(fuse_out_header) + 8);
  EXPECT_EQ(reply.unique, 42u);
  EXPECT_EQ(reply.payload, "abcdefgh");
}

TEST_F(FuseCallTest, ReplyLargerThanTheRoomIsErange) {
  int ticket;
  auto call = Decode({.opcode = FUSE_READLINK, .reply_room = sizeof(fuse_out_header) + 4}, ticket);
  ASSERT_NE(call, nullptr);
  call->Reply(0, {"12345"});
  FuseReply reply = harness_.Wait(ticket);
  EXPECT_EQ(reply.error, ERANGE);
  EXPECT_EQ(reply.written, sizeof(fuse_out_header));
}

TEST_F(FuseCallTest, NoRoomForTheHeaderCompletesEmpty) {
  int ticket;
  auto call = Decode({.opcode = FUSE_GETATTR, .reply_room = 8}, ticket);
  ASSERT_NE(call, nullptr);
  call->Reply(0);
  FuseReply reply = harness_.Wait(ticket);
  EXPECT_TRUE(reply.completed);
  EXPECT_EQ(reply.written, 0u);
}

TEST_F(FuseCallTest, CallDroppedWithoutReplyAnswersEioAndRunsOnEnd) {
  int ticket;
  auto call = Decode({.opcode = FUSE_GETATTR}, ticket);
  ASSERT_NE(call, nullptr);
  bool ended = false;
  call->on_end = [&ended] { ended = true; };
  call.reset();
  EXPECT_TRUE(ended);
  EXPECT_EQ(harness_.Wait(ticket).error, EIO);
}

// Once the guest has its reply, nothing of the call may touch the session any
// more (it may be gone): on_end runs before the chain completes, not when the
// call object is destroyed later.
TEST_F(FuseCallTest, OnEndRunsBeforeTheGuestSeesTheReply) {
  for (int way = 0; way < 3; ++way) {
    int ticket;
    auto call = Decode({.opcode = FUSE_GETATTR}, ticket);
    ASSERT_NE(call, nullptr);
    bool replied_before_end = true;
    call->on_end = [&] { replied_before_end = harness_.Done(ticket); };
    if (way == 0) call->Reply(0);
    if (way == 1) call->ReplyError(EINTR);
    if (way == 2) call->NoReply();
    EXPECT_FALSE(replied_before_end) << "way " << way;
    EXPECT_TRUE(harness_.Done(ticket));
  }
}

TEST_F(FuseCallTest, NoReplyCompletesWithNothingWritten) {
  int ticket;
  auto call = Decode({.opcode = FUSE_FORGET, .args = Arg(fuse_forget_in{1})}, ticket);
  ASSERT_NE(call, nullptr);
  call->NoReply();
  call.reset();  // No second completion.
  FuseReply reply = harness_.Wait(ticket);
  EXPECT_TRUE(reply.completed);
  EXPECT_EQ(reply.written, 0u);
}

TEST_F(FuseCallTest, HeaderLengthMismatchIsEinval) {
  RequestSpec spec{.opcode = FUSE_GETATTR};
  int ticket;
  PendingChain chain = harness_.MakeChain(spec, ticket);
  // The guest's header says more than the chain holds.
  fuse_in_header* header = static_cast<fuse_in_header*>(chain.chain().readable[0].iov_base);
  header->len += 8;
  EXPECT_EQ(FuseCall::Decode(std::move(chain)), nullptr);
  EXPECT_EQ(harness_.Wait(ticket).error, EINVAL);
}

TEST_F(FuseCallTest, ArgumentsBeyondTheLimitAreEinval) {
  int ticket;
  EXPECT_EQ(Decode({.opcode = FUSE_SETXATTR, .args = std::string(FuseCall::kMaxArgBytes + 1, 'x')},
                   ticket),
            nullptr);
  EXPECT_EQ(harness_.Wait(ticket).error, EINVAL);
}

TEST_F(FuseCallTest, ChainWithoutHeaderIsDroppedEmpty) {
  RequestSpec spec{.opcode = FUSE_GETATTR};
  int ticket;
  PendingChain chain = harness_.MakeChain(spec, ticket);
  DescriptorChain& raw = const_cast<DescriptorChain&>(chain.chain());
  raw.readable[0].iov_len = 10;
  raw.readable_bytes = 10;
  EXPECT_EQ(FuseCall::Decode(std::move(chain)), nullptr);
  FuseReply reply = harness_.Wait(ticket);
  EXPECT_TRUE(reply.completed);
  EXPECT_EQ(reply.written, 0u);
}

TEST_F(FuseCallTest, WriteDataStaysInGuestMemory) {
  fuse_write_in write{};
  write.size = 5;
  int ticket;
  auto call = Decode({.opcode = FUSE_WRITE, .args = Arg(write), .write_data = "hello"}, ticket);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->args.size(), sizeof(write));
  ASSERT_EQ(call->write_data.size(), 1u);
  EXPECT_EQ(std::string_view(static_cast<const char*>(call->write_data[0].iov_base),
                             call->write_data[0].iov_len),
            "hello");
  call->ReplyError(ENOSPC);
  EXPECT_EQ(harness_.Wait(ticket).error, ENOSPC);
}

}  // namespace
}  // namespace virtiofsd
