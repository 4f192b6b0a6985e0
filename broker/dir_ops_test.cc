// The handlers of directory handles (dir_ops.h) against the host kernel:
// opendir, readdir and readdirplus (packing within the frontend's budget, one
// lookup per entry returned), releasedir and fsyncdir, through the real channel
// (testing/conformance.h).

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
#include "common/broker_wire.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

class DirOpsTest : public ConformanceTest {};

// --- Directories ---------------------------------------------------------------------

std::set<std::string> HostNames(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

TEST_P(DirOpsTest, ReaddirListsWhatTheHostListsAcrossPages) {
  SetUpBoth([](const std::string& r) {
    for (int i = 0; i < 100; ++i) WriteFile(r + "/file-" + std::to_string(i), "x");
    mkdir((r + "/sub").c_str(), 0755);
  });
  Result dir = b().Opendir(kRoot);
  ASSERT_EQ(dir.error, 0);
  EXPECT_FALSE(dir.fd.valid());  // Directory fds never leave the broker.
  const uint64_t h = dir.reply.opendir().handle();
  std::multiset<std::string> names;
  uint64_t offset = 0;
  int pages = 0;
  while (true) {
    Result page = b().Readdir(h, offset, 512, false);
    ASSERT_EQ(page.error, 0);
    if (page.reply.readdir().entries_size() == 0) break;
    size_t bytes = 0;
    for (const proto::DirEntry& e : page.reply.readdir().entries()) {
      names.insert(e.name());
      offset = e.offset();
      bytes += (24 + e.name().size() + 7) & ~size_t{7};
      if (e.name() == "sub") {
        EXPECT_EQ(e.type(), DT_DIR);
      }
    }
    EXPECT_LE(bytes, 512u);
    ++pages;
  }
  EXPECT_GT(pages, 4);
  std::set<std::string> host = HostNames(mirror());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), host);
  EXPECT_EQ(names.size(), host.size());  // Each exactly once.
  proto::Request release;
  release.mutable_releasedir()->set_handle(h);
  EXPECT_EQ(b().Call(release).error, 0);
  EXPECT_EQ(b().Readdir(h, 0, 4096, false).error, EBADF);
}

TEST_P(DirOpsTest, ReaddirplusTakesALookupForEachEntryButDots) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/a", "xyz");
    mkdir((r + "/d").c_str(), 0755);
  });
  Result dir = b().Opendir(kRoot);
  Result page = b().Readdir(dir.reply.opendir().handle(), 0, 64 * 1024, true);
  ASSERT_EQ(page.error, 0);
  ASSERT_EQ(page.reply.readdir().entries_size(), 4);
  struct stat root_st;
  stat(share().c_str(), &root_st);
  for (const proto::DirEntry& e : page.reply.readdir().entries()) {
    if (e.name() == "." || e.name() == "..") {
      EXPECT_EQ(e.entry().node(), 0u) << e.name();
      // The share's parent is outside: its inode number is not revealed.
      EXPECT_EQ(e.ino(), root_st.st_ino) << e.name();
      continue;
    }
    EXPECT_NE(e.entry().node(), 0u);
    EXPECT_EQ(e.entry().attr().ino(), e.ino());
    EXPECT_EQ(e.entry().node(), NodeOf(e.name()));
    if (e.name() == "a") {
      EXPECT_EQ(e.entry().attr().size(), 3u);
    }
  }
}

TEST_P(DirOpsTest, OpendirErrorsAreTheKernels) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x");
    mkdir((r + "/private").c_str(), 0700);
  });
  EXPECT_EQ(b().Opendir(NodeOf("f")).error, ENOTDIR);
  // Read permission is the guest kernel's to check.
  const uint64_t priv = NodeOf("private");
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Opendir(priv).error, 0);
}

TEST_P(DirOpsTest, FsyncdirStatfsAccessSyncfs) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/secret", "x", 0600); });
  Result dir = b().Opendir(kRoot);
  proto::Request fsyncdir;
  fsyncdir.mutable_fsyncdir()->set_handle(dir.reply.opendir().handle());
  EXPECT_EQ(b().Call(fsyncdir).error, 0);

  proto::Request statfs_req;
  statfs_req.mutable_statfs()->set_node(kRoot);
  Result s = b().Call(statfs_req);
  ASSERT_EQ(s.error, 0);
  struct statfs host;
  ASSERT_EQ(statfs(mirror().c_str(), &host), 0);
  EXPECT_EQ(s.reply.statfs().blocks(), host.f_blocks);
  EXPECT_EQ(s.reply.statfs().bsize(), static_cast<uint32_t>(host.f_bsize));
  EXPECT_EQ(s.reply.statfs().namelen(), static_cast<uint32_t>(host.f_namelen));

  proto::Request syncfs_req;
  syncfs_req.mutable_syncfs()->set_node(NodeOf("secret"));
  EXPECT_EQ(b().Call(syncfs_req).error, 0);

  const uint64_t secret = NodeOf("secret");
  auto access_req = [&](uint32_t mask) {
    proto::Request req;
    req.mutable_access()->set_node(secret);
    req.mutable_access()->set_mask(mask);
    return b().Call(req).error;
  };
  EXPECT_EQ(access_req(R_OK | W_OK), 0);
  EXPECT_EQ(access_req(X_OK), Err(faccessat(AT_FDCWD, M("secret").c_str(), X_OK, AT_EACCESS)));
  EXPECT_EQ(access_req(0x40), Err(faccessat(AT_FDCWD, M("secret").c_str(), 0x40, 0)));
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(access_req(R_OK), AsCaller(kUser, kGroup, [&] {
              return Err(faccessat(mfd(), "secret", R_OK, AT_EACCESS));
            }));
  EXPECT_EQ(access_req(R_OK), EACCES);
  EXPECT_EQ(access_req(F_OK), 0);
}

INSTANTIATE_TEST_SUITE_P(Broker, DirOpsTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
