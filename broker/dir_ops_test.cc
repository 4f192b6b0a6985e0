// The handlers of directory handles (dir_ops.h) against the host kernel:
// opendir, readdir and readdirplus (packing within the frontend's budget, one
// lookup per entry returned), releasedir and fsyncdir, through the real channel
// (testing/conformance.h).

#include "broker/dir_ops.h"

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

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/testing/conformance.h"
#include "broker/testing/test_broker.h"
#include "common/channel/broker_wire.h"
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

// --- Packing: the frontend's layout, its budget, and the lookups it costs ------------

proto::Request ReaddirReq(uint64_t handle, uint64_t offset, uint32_t max_bytes, bool plus,
                          uint32_t entry_bytes, uint32_t name_alignment) {
  proto::Request req;
  proto::ReaddirRequest* r = req.mutable_readdir();
  r->set_handle(handle);
  r->set_offset(offset);
  r->set_max_bytes(max_bytes);
  r->set_plus(plus);
  r->set_entry_bytes(entry_bytes);
  r->set_name_alignment(name_alignment);
  return req;
}

// A layout unlike FUSE's, so a broker that sized entries its own way would show.
constexpr uint32_t kEntryBytes = 224;
constexpr uint32_t kNameAlignment = 32;

size_t Cost(const std::string& name) {
  return kEntryBytes + (name.size() + kNameAlignment - 1) / kNameAlignment * kNameAlignment;
}

TEST_P(DirOpsTest, ReaddirplusReturnsWhatFitsAndTakesOneLookupPerEntryReturned) {
  SetUpBoth([](const std::string& r) {
    for (int i = 0; i < 40; ++i) {
      WriteFile(r + "/" + std::string(1 + i * 7 % 60, 'a' + i % 26) + std::to_string(i), "x");
    }
  });
  const uint64_t h = b().Opendir(kRoot).reply.opendir().handle();
  constexpr uint32_t kMax = 1500;
  // No lookup is held for `name` but the one this takes: one FORGET ends the node.
  auto only_our_lookup = [&](const std::string& name) {
    const uint64_t node = NodeOf(name);
    b().Forget(node, 1);
    return Eventually([&] { return b().Getattr(node).error == ESTALE; });
  };
  uint64_t offset = 0;
  size_t returned = 0;
  while (true) {
    Result page = b().Call(ReaddirReq(h, offset, kMax, true, kEntryBytes, kNameAlignment));
    ASSERT_EQ(page.error, 0);
    const auto& entries = page.reply.readdir().entries();
    if (entries.empty()) break;
    size_t used = 0;
    for (const proto::DirEntry& e : entries) {
      used += Cost(e.name());
      offset = e.offset();
    }
    EXPECT_LE(used, kMax);
    // The entry after the page did not fit, and no lookup was taken for it.
    Result rest = b().Call(ReaddirReq(h, offset, 64 * 1024, false, kEntryBytes, kNameAlignment));
    ASSERT_EQ(rest.error, 0);
    if (rest.reply.readdir().entries_size() > 0) {
      const std::string& next = rest.reply.readdir().entries(0).name();
      EXPECT_GT(used + Cost(next), kMax) << next;
      if (next != "." && next != "..") {
        EXPECT_TRUE(only_our_lookup(next)) << next;
      }
    }
    // Each entry returned holds exactly one lookup: one FORGET ends it.
    for (const proto::DirEntry& e : entries) {
      if (e.name() == "." || e.name() == "..") continue;
      ASSERT_NE(e.entry().node(), 0u) << e.name();
      b().Forget(e.entry().node(), 1);
      const uint64_t node = e.entry().node();
      EXPECT_TRUE(Eventually([&] { return b().Getattr(node).error == ESTALE; })) << e.name();
      ++returned;
    }
  }
  EXPECT_EQ(returned, 40u);
  if (b().in_process()) {
    EXPECT_EQ(b().fs().node_count(), 1u);  // The root alone.
  }
}

TEST_P(DirOpsTest, ReaddirRefusesALayoutItCannotPack) {
  Start();
  const uint64_t h = b().Opendir(kRoot).reply.opendir().handle();
  for (const auto& [entry_bytes, alignment] : std::vector<std::pair<uint32_t, uint32_t>>{{0, 8},
                                                                                         {4097, 8},
                                                                                         {~0u, 8},
                                                                                         {24, 0},
                                                                                         {24, 3},
                                                                                         {24, 24},
                                                                                         {24, 8192},
                                                                                         {24, ~0u},
                                                                                         {20, 8},
                                                                                         {4, 8}}) {
    EXPECT_EQ(b().Call(ReaddirReq(h, 0, 4096, true, entry_bytes, alignment)).error, EINVAL)
        << entry_bytes << " " << alignment;
  }
  // The bounds themselves are fine: 4096-byte entries, names aligned to 1 or 4096.
  Result big = b().Call(ReaddirReq(h, 0, 64 * 1024, false, 4096, 4096));
  ASSERT_EQ(big.error, 0);
  EXPECT_EQ(big.reply.readdir().entries_size(), 2);  // "." and "..": 8192 bytes each.
  EXPECT_EQ(b().Call(ReaddirReq(h, 0, 4096, false, 1, 1)).error, 0);
  // An entry larger than the whole budget: nothing is returned, and no error.
  Result none = b().Call(ReaddirReq(h, 0, 100, false, 208, 8));
  ASSERT_EQ(none.error, 0);
  EXPECT_EQ(none.reply.readdir().entries_size(), 0);
}

// The arithmetic alone, with FUSE's fuse_dirent layout as the example.
TEST(DirentBudgetTest, CountsEntryBytesAndAlignedNamesUpToTheBudget) {
  std::optional<DirentBudget> budget = DirentBudget::Create(72, 24, 8);
  ASSERT_TRUE(budget.has_value());
  EXPECT_TRUE(budget->Take(1));   // 32
  EXPECT_TRUE(budget->Take(8));   // 64
  EXPECT_FALSE(budget->Take(1));  // 96 > 72: not counted.
  EXPECT_EQ(budget->used(), 64u);
  EXPECT_TRUE(DirentBudget::Create(72, 64, 8)->Take(8));  // Exactly 72.
  EXPECT_EQ(DirentBudget::Create(~0u, 24, 8)->max_bytes(), DirentBudget::kMaxBytes);
  EXPECT_FALSE(DirentBudget::Create(4096, 0, 8).has_value());
  EXPECT_FALSE(DirentBudget::Create(4096, 24, 12).has_value());
  EXPECT_FALSE(DirentBudget::Create(4096, 24, 8192).has_value());
  EXPECT_FALSE(DirentBudget::Create(4096, 20, 8).has_value());  // Not aligned itself.
}

INSTANTIATE_TEST_SUITE_P(Broker, DirOpsTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
