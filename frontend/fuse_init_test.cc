#include "frontend/fuse_init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>

#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::SessionHarness;

fuse_init_in GuestInit(uint32_t minor = FUSE_KERNEL_MINOR_VERSION, uint64_t flags = ~0ull) {
  fuse_init_in in{};
  in.major = FUSE_KERNEL_VERSION;
  in.minor = minor;
  in.max_readahead = 128 << 10;
  in.flags = static_cast<uint32_t>(flags) | FUSE_INIT_EXT;
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  return in;
}

uint64_t Flags(const fuse_init_out& out) {
  return out.flags | static_cast<uint64_t>(out.flags2) << 32;
}

TEST(FuseInitTest, NegotiatesVersionLimitsAndOfferedFlags) {
  SessionHarness harness;
  FuseReply reply = harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit(36)));
  ASSERT_EQ(reply.error, 0);
  const auto out = reply.As<fuse_init_out>();
  EXPECT_EQ(out.major, FUSE_KERNEL_VERSION);
  EXPECT_EQ(out.minor, 36u);
  EXPECT_EQ(out.max_write, kMaxIoBytes);
  EXPECT_EQ(out.max_pages, kMaxIoBytes / 4096);
  EXPECT_EQ(out.max_readahead, 128u << 10);
  const uint64_t flags = Flags(out);
  EXPECT_TRUE(flags & FUSE_POSIX_LOCKS);
  EXPECT_TRUE(flags & FUSE_DO_READDIRPLUS);  // readdirplus is on by default
  EXPECT_FALSE(flags & FUSE_WRITEBACK_CACHE);
  EXPECT_FALSE(flags & FUSE_POSIX_ACL);
  EXPECT_FALSE(flags & FUSE_SETXATTR_EXT);
  EXPECT_TRUE(harness.context().initialized.load());
  EXPECT_FALSE(harness.context().guest_strips_setgid.load());
}

TEST(FuseInitTest, OptionsAddTheirFlagsOnlyWhenTheGuestWantsThem) {
  FuseOptions options;
  options.writeback = true;
  options.posix_acl = true;
  options.readdirplus = false;
  SessionHarness harness(options);
  FuseReply reply = harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit()));
  ASSERT_EQ(reply.error, 0);
  const uint64_t flags = Flags(reply.As<fuse_init_out>());
  EXPECT_TRUE(flags & FUSE_WRITEBACK_CACHE);
  EXPECT_TRUE(flags & FUSE_POSIX_ACL);
  EXPECT_TRUE(flags & FUSE_SETXATTR_EXT);
  EXPECT_FALSE(flags & FUSE_DO_READDIRPLUS);
  EXPECT_TRUE(harness.context().setxattr_ext.load());
  EXPECT_TRUE(harness.context().guest_strips_setgid.load());

  SessionHarness plain(options);
  reply = plain.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit(FUSE_KERNEL_MINOR_VERSION, 0)));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(Flags(reply.As<fuse_init_out>()), uint64_t{FUSE_INIT_EXT});
}

TEST(FuseInitTest, OldGuestIsEprotoNewerMajorGetsOurs) {
  SessionHarness harness;
  EXPECT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit(kMinGuestMinor - 1))).error,
            EPROTO);
  EXPECT_FALSE(harness.context().initialized.load());
  fuse_init_in newer = GuestInit();
  newer.major = FUSE_KERNEL_VERSION + 1;
  FuseReply reply = harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(newer));
  ASSERT_EQ(reply.error, 0);
  EXPECT_EQ(reply.As<fuse_init_out>().major, FUSE_KERNEL_VERSION);
  EXPECT_FALSE(harness.context().initialized.load());
  EXPECT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, std::string(8, '\0')).error, EINVAL);
}

TEST(FuseInitTest, RepeatedInitAndDestroyEndTheSession) {
  SessionHarness harness;
  ASSERT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit())).error, 0);
  SessionHarness::OpenedFile file = harness.CreateAndOpen("f", "data", O_RDONLY);
  ASSERT_NE(harness.context().open_files().Get(file.handle), nullptr);
  // A rebooted guest's INIT: the broker ends the old session (its handles too).
  ASSERT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit())).error, 0);
  EXPECT_EQ(harness.context().open_files().Get(file.handle), nullptr);
  EXPECT_EQ(harness.broker().Release(file.handle).error, EBADF);
  EXPECT_TRUE(harness.context().initialized.load());

  file = harness.CreateAndOpen("g", "data", O_RDONLY);
  EXPECT_EQ(harness.Call(&fuse_op::Destroy, FUSE_DESTROY, 0, "").error, 0);
  EXPECT_FALSE(harness.context().initialized.load());
  EXPECT_EQ(harness.context().open_files().Get(file.handle), nullptr);
  EXPECT_EQ(harness.broker().Release(file.handle).error, EBADF);
}

TEST(FuseInitTest, RepeatedInitWithoutTheBrokerIsEio) {
  SessionHarness harness;
  ASSERT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit())).error, 0);
  harness.broker().client().Shutdown("test");
  EXPECT_EQ(harness.Call(&fuse_op::Init, FUSE_INIT, 0, Arg(GuestInit())).error, EIO);
}

}  // namespace
}  // namespace virtiofsd
