#include "frontend/fuse_context.h"

#include <errno.h>
#include <linux/fuse.h>
#include <sys/stat.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::FuseReply;
using testing::RequestSpec;
using testing::SessionHarness;

class FuseContextTest : public ::testing::Test {
 protected:
  std::unique_ptr<FuseCall> Decode(uint32_t opcode, int& ticket) {
    RequestSpec spec{.opcode = opcode};
    return FuseCall::Decode(harness_.MakeChain(spec, ticket));
  }
  static proto::Request Lookup(const FuseCall& call, const std::string& name) {
    proto::Request request = FuseContext::NewRequest(call);
    request.mutable_lookup()->set_parent(1);
    request.mutable_lookup()->set_name(name);
    return request;
  }

  SessionHarness harness_;
};

TEST_F(FuseContextTest, NewRequestCarriesTheCaller) {
  int ticket;
  auto call = Decode(FUSE_MKDIR, ticket);
  proto::Request request = FuseContext::NewRequest(*call, 027);
  EXPECT_EQ(request.caller().uid(), geteuid());
  EXPECT_EQ(request.caller().gid(), getegid());
  EXPECT_EQ(request.caller().pid(), static_cast<uint32_t>(getpid()));
  EXPECT_EQ(request.caller().umask(), 027u);
  call->Reply(0);
  EXPECT_TRUE(harness_.Wait(ticket).completed);
}

TEST_F(FuseContextTest, ForwardEncodesSuccessAndPassesErrnos) {
  ASSERT_EQ(mkdir(harness_.dir().Path("d").c_str(), 0755), 0);
  int found;
  auto call = Decode(FUSE_LOOKUP, found);
  proto::Request request = Lookup(*call, "d");
  harness_.context().ForwardEntry(std::move(call), std::move(request));
  FuseReply reply = harness_.Wait(found);
  ASSERT_EQ(reply.error, 0);
  const auto entry = reply.As<fuse_entry_out>();
  EXPECT_NE(entry.nodeid, 0u);
  EXPECT_TRUE(S_ISDIR(entry.attr.mode));

  int missing;
  call = Decode(FUSE_LOOKUP, missing);
  request = Lookup(*call, "absent");
  harness_.context().ForwardEntry(std::move(call), std::move(request));
  EXPECT_EQ(harness_.Wait(missing).error, ENOENT);
}

TEST_F(FuseContextTest, RequestTheTableDoesNotListIsEioAndNotSent) {
  ASSERT_EQ(mkdir(harness_.dir().Path("d").c_str(), 0755), 0);
  int ticket;
  auto call = Decode(FUSE_GETATTR, ticket);  // GETATTR does not send Lookup.
  proto::Request request = Lookup(*call, "d");
  bool encoded = false;
  EXPECT_FALSE(harness_.context()
                   .Forward(std::move(call), std::move(request),
                            [&encoded](FuseCall& call, BrokerResponse&) {
                              encoded = true;
                              call.Reply(0);
                            })
                   .has_value());
  EXPECT_EQ(harness_.Wait(ticket).error, EIO);
  EXPECT_FALSE(encoded);
  int sync;
  call = Decode(FUSE_GETATTR, sync);
  EXPECT_EQ(harness_.context().Call(*call, Lookup(*call, "d")), EIO);
  call->Reply(0);
  harness_.Wait(sync);
}

TEST_F(FuseContextTest, BrokenChannelIsEio) {
  harness_.broker().client().Shutdown("test");
  int ticket;
  auto call = Decode(FUSE_LOOKUP, ticket);
  proto::Request request = Lookup(*call, "d");
  EXPECT_FALSE(harness_.context()
                   .Forward(std::move(call), std::move(request),
                            [](FuseCall& call, BrokerResponse&) { call.Reply(0); })
                   .has_value());
  EXPECT_EQ(harness_.Wait(ticket).error, EIO);
  int sync;
  call = Decode(FUSE_LOOKUP, sync);
  EXPECT_EQ(harness_.context().Call(*call, Lookup(*call, "d")), EIO);
  call->Reply(0);
  harness_.Wait(sync);
}

TEST_F(FuseContextTest, CallReturnsTheBrokersErrno) {
  int ticket;
  auto call = Decode(FUSE_LOOKUP, ticket);
  EXPECT_EQ(harness_.context().Call(*call, Lookup(*call, "absent")), ENOENT);
  call->Reply(0);
  harness_.Wait(ticket);
}

TEST(FuseContextOpenOutTest, CachePolicyDecidesTheOpenFlags) {
  const struct {
    CachePolicy cache;
    uint32_t flags;
  } cases[] = {{CachePolicy::kNever, FOPEN_DIRECT_IO},
               {CachePolicy::kMetadata, FOPEN_DIRECT_IO},
               {CachePolicy::kAlways, FOPEN_KEEP_CACHE},
               {CachePolicy::kAuto, 0}};
  for (const auto& c : cases) {
    FuseOptions options;
    options.cache = c.cache;
    SessionHarness harness(options);
    const fuse_open_out out = harness.context().OpenOut(9, FOPEN_NONSEEKABLE);
    EXPECT_EQ(out.fh, 9u);
    EXPECT_EQ(out.open_flags, FOPEN_NONSEEKABLE | c.flags);
  }
}

}  // namespace
}  // namespace virtiofsd
