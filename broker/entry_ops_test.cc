// The handlers of names and attributes (entry_ops.h) against the host kernel:
// lookup and forget, getattr and setattr, and the calls that make and remove
// names, through the real channel (testing/conformance.h).

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

class EntryOpsTest : public ConformanceTest {};

// --- Lookup, Forget, Getattr ---------------------------------------------------------

TEST_P(EntryOpsTest, LookupGivesTheHostAttributes) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "hello", 0640); });
  Result r = b().Lookup(kRoot, "f");
  ASSERT_EQ(r.error, 0);
  struct stat st;
  ASSERT_EQ(lstat(S("f").c_str(), &st), 0);
  const proto::Attr& a = r.reply.entry().attr();
  EXPECT_EQ(a.ino(), st.st_ino);
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a.mode(), st.st_mode);
  EXPECT_EQ(a.nlink(), st.st_nlink);
  EXPECT_EQ(a.uid(), st.st_uid);
  EXPECT_EQ(a.gid(), st.st_gid);
  EXPECT_EQ(a.blocks(), static_cast<uint64_t>(st.st_blocks));
  EXPECT_EQ(a.blksize(), static_cast<uint32_t>(st.st_blksize));
  EXPECT_EQ(a.mtime(), st.st_mtim.tv_sec);
  EXPECT_EQ(a.mtime_nsec(), static_cast<uint32_t>(st.st_mtim.tv_nsec));
  EXPECT_EQ(a.flags(), 0u);
  EXPECT_NE(r.reply.entry().node(), kRoot);
}

TEST_P(EntryOpsTest, LookupErrorsAreTheKernels) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/file", "x");
    mkdir((r + "/private").c_str(), 0700);
    WriteFile(r + "/private/inner", "x");
  });
  struct stat st;
  EXPECT_EQ(b().Lookup(kRoot, "missing").error, Err(lstat(M("missing").c_str(), &st)));
  EXPECT_EQ(b().Lookup(NodeOf("file"), "x").error, Err(lstat(M("file/x").c_str(), &st)));
  const std::string long_name(NAME_MAX + 1, 'n');
  EXPECT_EQ(b().Lookup(kRoot, long_name).error, Err(lstat(M(long_name).c_str(), &st)));
  // Search permission is the guest kernel's to check, with all of the caller's
  // groups (README "Permission model"): the broker looks up what it is asked.
  const uint64_t priv = NodeOf("private");
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Lookup(priv, "inner").error, 0);
}

TEST_P(EntryOpsTest, NamesThatAreNotOneComponentAreRefused) {
  SetUpBoth([](const std::string& r) { mkdir((r + "/d").c_str(), 0755); });
  for (const std::string& name :
       std::vector<std::string>{"", ".", "..", "d/..", "/etc", std::string("a\0b", 3)}) {
    EXPECT_EQ(b().Lookup(kRoot, name).error, EINVAL) << name;
    EXPECT_EQ(b().Mkdir(kRoot, name).error, EINVAL) << name;
    EXPECT_EQ(b().Create(kRoot, name, O_RDWR).error, EINVAL) << name;
    EXPECT_EQ(b().Unlink(kRoot, name).error, EINVAL) << name;
  }
}

TEST_P(EntryOpsTest, HardLinksAndRepeatedLookupsShareOneNode) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/a", "x");
    link((r + "/a").c_str(), (r + "/b").c_str());
  });
  const uint64_t a = NodeOf("a");
  EXPECT_EQ(NodeOf("b"), a);
  EXPECT_EQ(NodeOf("a"), a);
  if (b().in_process()) {
    EXPECT_EQ(b().fs().node_count(), 2u);  // The root and one file.
  }
}

TEST_P(EntryOpsTest, ForgetReleasesNodesAndStaleIdsGetEstale) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/a", "x"); });
  const uint64_t a = NodeOf("a");
  NodeOf("a");
  b().Forget(a, 1);
  EXPECT_EQ(b().Getattr(a).error, 0);
  proto::Request batch;
  batch.mutable_batch_forget()->add_forgets()->set_node(a);
  batch.mutable_batch_forget()->mutable_forgets(0)->set_nlookup(1);
  batch.mutable_batch_forget()->add_forgets()->set_node(kRoot);  // Ignored.
  batch.mutable_batch_forget()->mutable_forgets(1)->set_nlookup(1000);
  b().SendOneWay(batch);
  // One-way requests may be served after later ones (several serving threads).
  EXPECT_TRUE(Eventually([&] { return b().Getattr(a).error == ESTALE; }));
  EXPECT_EQ(b().Getattr(kRoot).error, 0);
  // The slot is reused with a new generation: the old id still finds nothing.
  const uint64_t again = NodeOf("a");
  EXPECT_NE(again, a);
  EXPECT_EQ(again & 0xffffffff, a & 0xffffffff);
  EXPECT_EQ(b().Getattr(a).error, ESTALE);
  EXPECT_EQ(b().Getattr(0).error, ESTALE);
  EXPECT_EQ(b().Getattr(~uint64_t{0}).error, ESTALE);
}

// --- Setattr -------------------------------------------------------------------------

TEST_P(EntryOpsTest, SetattrChangesWhatTheHostShows) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "0123456789"); });
  proto::Request req;
  proto::SetattrRequest* s = req.mutable_setattr();
  s->set_node(NodeOf("f"));
  s->set_valid(FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME);
  s->set_mode(0600);
  s->set_uid(kUser);
  s->set_gid(kGroup);
  s->set_size(3);
  s->set_atime(1000);
  s->set_atime_nsec(5);
  s->set_mtime(2000);
  s->set_mtime_nsec(7);
  Result r = b().Call(req);
  ASSERT_EQ(r.error, 0);
  struct stat st;
  ASSERT_EQ(stat(S("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, kUser);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  EXPECT_EQ(r.reply.attr().attr().size(), 3u);
  EXPECT_EQ(r.reply.attr().attr().mode() & 07777, 0600u);
}

TEST_P(EntryOpsTest, SetattrErrorsAreTheKernels) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x", 0644);
    mkdir((r + "/d").c_str(), 0755);
  });
  const uint64_t f = NodeOf("f"), d = NodeOf("d");
  auto setattr = [&](uint64_t node, uint32_t valid, uint32_t mode, uint64_t size) {
    proto::Request req;
    req.mutable_setattr()->set_node(node);
    req.mutable_setattr()->set_valid(valid);
    req.mutable_setattr()->set_mode(mode);
    req.mutable_setattr()->set_size(size);
    req.mutable_setattr()->set_uid(kUser);
    return b().Call(req).error;
  };
  EXPECT_EQ(setattr(d, FATTR_SIZE, 0, 0), Err(truncate(M("d").c_str(), 0)));
  // Ownership rules stay the host's; write permission is the guest kernel's to check.
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(setattr(f, FATTR_MODE, 0777, 0),
            AsCaller(kUser, kGroup, [&] { return Err(fchmodat(mfd(), "f", 0777, 0)); }));
  EXPECT_EQ(setattr(f, FATTR_UID, 0, 0),
            AsCaller(kUser, kGroup, [&] { return Err(fchownat(mfd(), "f", kUser, -1, 0)); }));
  EXPECT_EQ(setattr(f, FATTR_MODE, 0777, 0), EPERM);
  EXPECT_EQ(setattr(f, FATTR_SIZE, 0, 0), 0);
}

TEST_P(EntryOpsTest, NewFilesInSetgidDirectoriesTakeItsGroup) {
  SetUpBoth([](const std::string& r) {
    mkdir((r + "/sg").c_str(), 0777);
    chown((r + "/sg").c_str(), 0, 4242);
    chmod((r + "/sg").c_str(), 02777);
  });
  b().SetCaller(kUser, kGroup, 0);
  ASSERT_EQ(b().Mkdir(NodeOf("sg"), "sub", 0755).error, 0);
  Result c = b().Create(NodeOf("sg"), "file", O_RDWR, 02755);
  ASSERT_EQ(c.error, 0);
  AsCaller(kUser, kGroup, [&] {
    mkdirat(mfd(), "sg/sub", 0755);
    UniqueFd fd(openat(mfd(), "sg/file", O_RDWR | O_CREAT | O_CLOEXEC, 02755));
    return 0;
  });
  for (const char* name : {"sg/sub", "sg/file"}) {
    struct stat s, m;
    stat(S(name).c_str(), &s);
    stat(M(name).c_str(), &m);
    EXPECT_EQ(s.st_gid, 4242u) << name;
    EXPECT_EQ(s.st_gid, m.st_gid) << name;
    EXPECT_EQ(s.st_mode, m.st_mode) << name;  // S_ISGID kept on dirs, dropped on the file.
  }
}

// --- Entries: mkdir, mknod, symlink, unlink, rmdir, rename, link ---------------------

TEST_P(EntryOpsTest, MkdirHonoursUmaskAndReportsErrors) {
  SetUpBoth([](const std::string& r) { mkdir((r + "/ro").c_str(), 0555); });
  b().SetCaller(0, 0, 027);
  Result r = b().Mkdir(kRoot, "d", 0777);
  ASSERT_EQ(r.error, 0);
  EXPECT_EQ(r.reply.entry().attr().mode(), S_IFDIR | 0750u);
  EXPECT_EQ(b().Mkdir(kRoot, "d").error, Err(mkdir(S("d").c_str(), 0755)));
  // Write permission on the parent is the guest kernel's to check.
  b().SetCaller(kUser, kGroup);
  Result x = b().Mkdir(NodeOf("ro"), "x");
  EXPECT_EQ(x.error, 0);
  EXPECT_EQ(x.reply.entry().attr().uid(), kUser);
}

TEST_P(EntryOpsTest, MknodMakesFifosAndDevicesAsTheKernelAllows) {
  Start();
  Result fifo = b().Mknod(kRoot, "fifo", S_IFIFO | 0600);
  ASSERT_EQ(fifo.error, 0);
  EXPECT_TRUE(S_ISFIFO(fifo.reply.entry().attr().mode()));
  Result dev = b().Mknod(kRoot, "null", S_IFCHR | 0600, makedev(1, 3));
  ASSERT_EQ(dev.error, 0);
  struct stat st;
  ASSERT_EQ(stat(S("null").c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(dev.reply.entry().attr().rdev(), static_cast<uint32_t>(makedev(1, 3)));
  b().SetCaller(kUser, kGroup);
  chmod(share().c_str(), 0777);
  chmod(mirror().c_str(), 0777);
  EXPECT_EQ(b().Mknod(kRoot, "dev", S_IFBLK | 0600, makedev(7, 0)).error,
            AsCaller(kUser, kGroup,
                     [&] { return Err(mknodat(mfd(), "dev", S_IFBLK | 0600, makedev(7, 0))); }));
  EXPECT_EQ(b().Mknod(kRoot, "dir", S_IFDIR | 0600).error,
            Err(mknod(M("dir").c_str(), S_IFDIR | 0600, 0)));
}

TEST_P(EntryOpsTest, SymlinkAndReadlink) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  Result s = b().Symlink(kRoot, "link", "/etc/passwd");
  ASSERT_EQ(s.error, 0);
  EXPECT_TRUE(S_ISLNK(s.reply.entry().attr().mode()));
  char target[64] = {};
  ASSERT_EQ(readlink(S("link").c_str(), target, sizeof(target)), 11);
  EXPECT_STREQ(target, "/etc/passwd");
  proto::Request read;
  read.mutable_readlink()->set_node(s.reply.entry().node());
  Result r = b().Call(read);
  ASSERT_EQ(r.error, 0);
  EXPECT_EQ(r.reply.readlink().target(), "/etc/passwd");
  read.mutable_readlink()->set_node(NodeOf("f"));
  EXPECT_EQ(b().Call(read).error, Err(readlink(M("f").c_str(), target, sizeof(target))));
  EXPECT_EQ(b().Symlink(kRoot, "empty", "").error, Err(symlink("", M("empty").c_str())));
  EXPECT_EQ(b().Symlink(kRoot, "f", "x").error, Err(symlink("x", M("f").c_str())));
}

TEST_P(EntryOpsTest, UnlinkAndRmdirErrorsAreTheKernels) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x");
    mkdir((r + "/d").c_str(), 0755);
    mkdir((r + "/full").c_str(), 0755);
    WriteFile(r + "/full/x", "x");
  });
  EXPECT_EQ(b().Unlink(kRoot, "missing").error, Err(unlink(M("missing").c_str())));
  EXPECT_EQ(b().Unlink(kRoot, "d").error, Err(unlink(M("d").c_str())));
  EXPECT_EQ(b().Rmdir(kRoot, "f").error, Err(rmdir(M("f").c_str())));
  EXPECT_EQ(b().Rmdir(kRoot, "full").error, Err(rmdir(M("full").c_str())));
  EXPECT_EQ(b().Unlink(kRoot, "f").error, 0);
  EXPECT_EQ(b().Rmdir(kRoot, "d").error, 0);
  EXPECT_NE(access(S("f").c_str(), F_OK), 0);
  EXPECT_NE(access(S("d").c_str(), F_OK), 0);
}

TEST_P(EntryOpsTest, RenameWithFlags) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/a", "a");
    WriteFile(r + "/b", "b");
    mkdir((r + "/d").c_str(), 0755);
  });
  auto rename = [&](const std::string& from, uint64_t to_parent, const std::string& to,
                    uint32_t flags) {
    proto::Request req;
    req.mutable_rename()->set_old_parent(kRoot);
    req.mutable_rename()->set_old_name(from);
    req.mutable_rename()->set_new_parent(to_parent);
    req.mutable_rename()->set_new_name(to);
    req.mutable_rename()->set_flags(flags);
    return b().Call(req).error;
  };
  auto host = [&](const std::string& from, const std::string& to, uint32_t flags) {
    return Err(syscall(SYS_renameat2, AT_FDCWD, M(from).c_str(), AT_FDCWD, M(to).c_str(), flags));
  };
  const uint64_t d = NodeOf("d");
  EXPECT_EQ(rename("a", kRoot, "b", RENAME_NOREPLACE), host("a", "b", RENAME_NOREPLACE));
  EXPECT_EQ(rename("a", kRoot, "b", RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(rename("a", kRoot, "b", RENAME_EXCHANGE), host("a", "b", RENAME_EXCHANGE));
  char c = 0;
  UniqueFd fd(open(S("a").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(read(fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'b');
  EXPECT_EQ(rename("a", kRoot, "c", 0x80), EINVAL);
  EXPECT_EQ(rename("missing", kRoot, "c", 0), host("missing", "c", 0));
  EXPECT_EQ(rename("a", kRoot, "d", 0), host("a", "d", 0));
  EXPECT_EQ(rename("a", d, "moved", 0), host("a", "d/moved", 0));
  EXPECT_EQ(access(S("d/moved").c_str(), F_OK), 0);
}

TEST_P(EntryOpsTest, LinkMakesAHardLink) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x");
    mkdir((r + "/d").c_str(), 0755);
  });
  auto link_req = [&](uint64_t node, const std::string& name) {
    proto::Request req;
    req.mutable_link()->set_node(node);
    req.mutable_link()->set_new_parent(kRoot);
    req.mutable_link()->set_new_name(name);
    return b().Call(req);
  };
  const uint64_t f = NodeOf("f");
  Result r = link_req(f, "g");
  ASSERT_EQ(r.error, 0);
  EXPECT_EQ(r.reply.entry().node(), f);
  EXPECT_EQ(r.reply.entry().attr().nlink(), 2u);
  EXPECT_EQ(link_req(f, "g").error, Err(link(M("f").c_str(), M("f").c_str())));
  EXPECT_EQ(link_req(NodeOf("d"), "d2").error, Err(link(M("d").c_str(), M("d2").c_str())));
}

INSTANTIATE_TEST_SUITE_P(Broker, EntryOpsTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
