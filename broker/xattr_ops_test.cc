// The handlers of extended attributes (xattr_ops.h) against the host kernel:
// names, values, lists, POSIX ACLs, and the options that switch them, through
// the real channel (testing/conformance.h).

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

class XattrOpsTest : public ConformanceTest {};

// --- Extended attributes ----------------------------------------------------------------

TEST_P(XattrOpsTest, XattrsAreOffWithoutTheOption) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  EXPECT_EQ(b().Call(SetxattrReq(NodeOf("f"), "user.a", "1")).error, ENOSYS);
  EXPECT_EQ(b().Call(GetxattrReq(NodeOf("f"), "user.a", 0)).error, ENOSYS);
}

TEST_P(XattrOpsTest, XattrsBehaveAsTheKernels) {
  FsConfig config;
  config.xattr = true;
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  const uint64_t f = NodeOf("f");
  const std::string m = M("f");
  EXPECT_EQ(b().Call(SetxattrReq(f, "user.a", "value")).error,
            Err(setxattr(m.c_str(), "user.a", "value", 5, 0)));
  EXPECT_EQ(b().Call(SetxattrReq(f, "user.a", "v", XATTR_CREATE)).error,
            Err(setxattr(m.c_str(), "user.a", "v", 1, XATTR_CREATE)));
  EXPECT_EQ(b().Call(SetxattrReq(f, "user.b", "v", XATTR_REPLACE)).error,
            Err(setxattr(m.c_str(), "user.b", "v", 1, XATTR_REPLACE)));
  EXPECT_EQ(b().Call(SetxattrReq(f, "bogus.a", "v")).error,
            Err(setxattr(m.c_str(), "bogus.a", "v", 1, 0)));
  Result size = b().Call(GetxattrReq(f, "user.a", 0));
  ASSERT_EQ(size.error, 0);
  EXPECT_EQ(size.reply.xattr().size(), 5u);
  Result value = b().Call(GetxattrReq(f, "user.a", 100));
  ASSERT_EQ(value.error, 0);
  EXPECT_EQ(value.reply.xattr().value(), "value");
  char buf[2];
  EXPECT_EQ(b().Call(GetxattrReq(f, "user.a", 2)).error,
            Err(getxattr(m.c_str(), "user.a", buf, 2)));
  EXPECT_EQ(b().Call(GetxattrReq(f, "user.none", 10)).error,
            Err(getxattr(m.c_str(), "user.none", buf, 2)));
  EXPECT_EQ(b().Call(GetxattrReq(f, "", 10)).error, Err(getxattr(m.c_str(), "", buf, 2)));

  proto::Request list;
  list.mutable_listxattr()->set_node(f);
  Result l = b().Call(list);
  ASSERT_EQ(l.error, 0);
  EXPECT_EQ(l.reply.xattr().size(), 7u);  // "user.a\0"
  list.mutable_listxattr()->set_size(100);
  l = b().Call(list);
  EXPECT_EQ(l.reply.xattr().value(), std::string("user.a\0", 7));
  list.mutable_listxattr()->set_size(3);
  EXPECT_EQ(b().Call(list).error, ERANGE);

  proto::Request remove;
  remove.mutable_removexattr()->set_node(f);
  remove.mutable_removexattr()->set_name("user.a");
  EXPECT_EQ(b().Call(remove).error, 0);
  EXPECT_EQ(b().Call(remove).error, Err(removexattr(m.c_str(), "user.none")));
  EXPECT_EQ(getxattr(S("f").c_str(), "user.a", buf, 2), -1);

  // POSIX ACLs only with --posix-acl.
  EXPECT_EQ(b().Call(GetxattrReq(f, "system.posix_acl_access", 100)).error, EOPNOTSUPP);
}

std::string Acl(std::initializer_list<std::pair<uint16_t, uint16_t>> entries) {
  // posix_acl_xattr_header (version 2) and posix_acl_xattr_entry {tag, perm, id}.
  std::string blob("\x02\x00\x00\x00", 4);
  for (const auto& [tag, perm] : entries) {
    const char entry[8] = {static_cast<char>(tag),
                           static_cast<char>(tag >> 8),
                           static_cast<char>(perm),
                           0,
                           -1,
                           -1,
                           -1,
                           -1};
    blob.append(entry, 8);
  }
  return blob;
}

TEST_P(XattrOpsTest, PosixAclsWithTheOption) {
  constexpr uint16_t kUserObj = 0x01, kGroupObj = 0x04, kOther = 0x20;
  FsConfig config;
  config.xattr = true;
  config.posix_acl = true;
  SetUpBoth(
      [](const std::string& r) {
        WriteFile(r + "/f", "x", 0777);
        mkdir((r + "/d").c_str(), 0777);
      },
      config);
  // An access ACL is a chmod.
  const std::string access = Acl({{kUserObj, 6}, {kGroupObj, 4}, {kOther, 0}});
  ASSERT_EQ(b().Call(SetxattrReq(NodeOf("f"), "system.posix_acl_access", access)).error, 0);
  struct stat st;
  stat(S("f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // A default ACL replaces the caller's umask for new entries, as on the host.
  const std::string def = Acl({{kUserObj, 7}, {kGroupObj, 6}, {kOther, 4}});
  ASSERT_EQ(b().Call(SetxattrReq(NodeOf("d"), "system.posix_acl_default", def)).error, 0);
  ASSERT_EQ(setxattr(M("d").c_str(), "system.posix_acl_default", def.data(), def.size(), 0), 0);
  b().SetCaller(0, 0, 077);
  ASSERT_EQ(b().Create(NodeOf("d"), "new", O_RDWR, 0666).error, 0);
  std::thread host([&] {
    unshare(CLONE_FS);
    umask(077);
    UniqueFd fd(openat(mfd(), "d/new", O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  });
  host.join();
  struct stat s_new, m_new;
  ASSERT_EQ(stat(S("d/new").c_str(), &s_new), 0);
  ASSERT_EQ(stat(M("d/new").c_str(), &m_new), 0);
  EXPECT_EQ(s_new.st_mode, m_new.st_mode);
  EXPECT_EQ(s_new.st_mode & 0777, 0664u);
}

INSTANTIATE_TEST_SUITE_P(Broker, XattrOpsTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
