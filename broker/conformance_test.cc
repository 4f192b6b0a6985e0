// The conformance suite: drives the broker through the real channel (BrokerClient
// <-> Server on a socket pair) as the frontend would, on a temp dir, and compares
// every result and errno with what the same syscall returns directly on the host
// (on a mirror directory with the same contents, as the same caller).

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

#include "broker/testing/test_broker.h"
#include "common/broker_wire.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

constexpr uint64_t kRoot = 1;
constexpr uid_t kUser = 1000;
constexpr gid_t kGroup = 1000;

void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  fchmod(fd.get(), mode);
}

// Polls `done` for up to 2 s.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    usleep(1000);
  }
  return false;
}

class ConformanceTest : public ::testing::TestWithParam<TestBroker::Mode> {
 protected:
  ConformanceTest() {
    mkdir(share().c_str(), 0755);
    mkdir(mirror().c_str(), 0755);
  }

  // Runs `setup` on both trees, then starts the broker on the share.
  void SetUpBoth(const std::function<void(const std::string& root)>& setup, FsConfig config = {}) {
    setup(share());
    setup(mirror());
    mirror_fd_.Reset(open(mirror().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    broker_ = std::make_unique<TestBroker>(share(), std::move(config), 2, GetParam());
  }
  void Start(FsConfig config = {}) {
    SetUpBoth([](const std::string&) {}, std::move(config));
  }

  std::string share() const { return tmp_.Path("share"); }
  std::string mirror() const { return tmp_.Path("mirror"); }
  // The mirror as a held fd: host calls as another uid must not need search
  // permission on the temp dir's ancestors (the broker needs none either).
  int mfd() const { return mirror_fd_.get(); }
  std::string S(const std::string& rel) const { return share() + "/" + rel; }
  std::string M(const std::string& rel) const { return mirror() + "/" + rel; }

  uint64_t NodeOf(const std::string& name, uint64_t parent = kRoot) {
    Result r = broker_->Lookup(parent, name);
    EXPECT_EQ(r.error, 0) << name;
    return r.reply.entry().node();
  }

  TestBroker& b() { return *broker_; }

  TempDir tmp_;
  UniqueFd mirror_fd_;
  std::unique_ptr<TestBroker> broker_;
};

// --- Lookup, Forget, Getattr ---------------------------------------------------------

TEST_P(ConformanceTest, LookupGivesTheHostAttributes) {
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

TEST_P(ConformanceTest, LookupErrorsAreTheKernels) {
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

TEST_P(ConformanceTest, NamesThatAreNotOneComponentAreRefused) {
  SetUpBoth([](const std::string& r) { mkdir((r + "/d").c_str(), 0755); });
  for (const std::string& name :
       std::vector<std::string>{"", ".", "..", "d/..", "/etc", std::string("a\0b", 3)}) {
    EXPECT_EQ(b().Lookup(kRoot, name).error, EINVAL) << name;
    EXPECT_EQ(b().Mkdir(kRoot, name).error, EINVAL) << name;
    EXPECT_EQ(b().Create(kRoot, name, O_RDWR).error, EINVAL) << name;
    EXPECT_EQ(b().Unlink(kRoot, name).error, EINVAL) << name;
  }
}

TEST_P(ConformanceTest, HardLinksAndRepeatedLookupsShareOneNode) {
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

TEST_P(ConformanceTest, ForgetReleasesNodesAndStaleIdsGetEstale) {
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

TEST_P(ConformanceTest, SetattrChangesWhatTheHostShows) {
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

TEST_P(ConformanceTest, SetattrErrorsAreTheKernels) {
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

TEST_P(ConformanceTest, NewFilesInSetgidDirectoriesTakeItsGroup) {
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

TEST_P(ConformanceTest, MkdirHonoursUmaskAndReportsErrors) {
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

TEST_P(ConformanceTest, MknodMakesFifosAndDevicesAsTheKernelAllows) {
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

TEST_P(ConformanceTest, SymlinkAndReadlink) {
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

TEST_P(ConformanceTest, UnlinkAndRmdirErrorsAreTheKernels) {
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

TEST_P(ConformanceTest, RenameWithFlags) {
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

TEST_P(ConformanceTest, LinkMakesAHardLink) {
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

// --- Open, Create, Tmpfile and the fds they return -------------------------------------

TEST_P(ConformanceTest, OpenReturnsARegularFileFdWithTheGuestsAccessMode) {
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

TEST_P(ConformanceTest, OpenErrorsAreTheKernelsAndOnlyRegularFilesOpen) {
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

TEST_P(ConformanceTest, CreateMakesAFileAndOpensIt) {
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

TEST_P(ConformanceTest, CreatedFilesBelongToTheCaller) {
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

TEST_P(ConformanceTest, TmpfileIsAnUnnamedFile) {
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

TEST_P(ConformanceTest, WritebackTurnsWriteOnlyIntoReadWriteWithoutAppend) {
  FsConfig config;
  config.writeback = true;
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  Result r = b().Open(NodeOf("f"), O_WRONLY | O_APPEND);
  ASSERT_EQ(r.error, 0);
  const int flags = fcntl(r.fd.get(), F_GETFL);
  EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
  EXPECT_FALSE(flags & O_APPEND);
}

TEST_P(ConformanceTest, DirectIoOnlyWhenAllowed) {
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

TEST_P(ConformanceTest, FlushFsyncAndBadHandles) {
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

// --- Directories ---------------------------------------------------------------------

std::set<std::string> HostNames(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) names.insert(e->d_name);
  closedir(d);
  return names;
}

TEST_P(ConformanceTest, ReaddirListsWhatTheHostListsAcrossPages) {
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

TEST_P(ConformanceTest, ReaddirplusTakesALookupForEachEntryButDots) {
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

TEST_P(ConformanceTest, OpendirErrorsAreTheKernels) {
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

TEST_P(ConformanceTest, FsyncdirStatfsAccessSyncfs) {
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

// --- Extended attributes ----------------------------------------------------------------

proto::Request SetxattrReq(uint64_t node, const std::string& name, const std::string& value,
                           uint32_t flags = 0) {
  proto::Request req;
  req.mutable_setxattr()->set_node(node);
  req.mutable_setxattr()->set_name(name);
  req.mutable_setxattr()->set_value(value);
  req.mutable_setxattr()->set_flags(flags);
  return req;
}

proto::Request GetxattrReq(uint64_t node, const std::string& name, uint32_t size) {
  proto::Request req;
  req.mutable_getxattr()->set_node(node);
  req.mutable_getxattr()->set_name(name);
  req.mutable_getxattr()->set_size(size);
  return req;
}

TEST_P(ConformanceTest, XattrsAreOffWithoutTheOption) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  EXPECT_EQ(b().Call(SetxattrReq(NodeOf("f"), "user.a", "1")).error, ENOSYS);
  EXPECT_EQ(b().Call(GetxattrReq(NodeOf("f"), "user.a", 0)).error, ENOSYS);
}

TEST_P(ConformanceTest, XattrsBehaveAsTheKernels) {
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

TEST_P(ConformanceTest, PosixAclsWithTheOption) {
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

// --- Id translation (--translate-uid/--translate-gid) ---------------------------------

IdTranslation Ids(const std::vector<std::string>& rules) {
  absl::StatusOr<IdTranslation> table = IdTranslation::Parse(rules);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : IdTranslation();
}

// Every guest id is squashed onto host 2000/3000, and those come back as 1000.
FsConfig SquashConfig() {
  FsConfig config;
  config.uids = Ids({"squash-guest:0:2000:4294967295", "host:2000:1000:1"});
  config.gids = Ids({"squash-guest:0:3000:4294967295", "host:3000:1000:1"});
  return config;
}

TEST_P(ConformanceTest, SquashedCallersCreateHostIdsAndSeeGuestIds) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/foreign", "x"); }, SquashConfig());
  ASSERT_EQ(chown(S("foreign").c_str(), 5000, 6000), 0);
  b().SetCaller(kUser, kGroup);
  Result created = b().Create(kRoot, "f", O_RDWR, 0644);
  ASSERT_EQ(created.error, 0);
  Result dir = b().Mkdir(kRoot, "d");
  ASSERT_EQ(dir.error, 0);
  Result link = b().Symlink(kRoot, "l", "f");
  ASSERT_EQ(link.error, 0);
  b().SetCaller(0, 0);  // guest root is squashed too
  Result fifo = b().Mknod(kRoot, "p", S_IFIFO | 0644);
  ASSERT_EQ(fifo.error, 0);
  // On the host: the squashed ids.
  for (const char* name : {"f", "d", "l", "p"}) {
    struct stat st;
    ASSERT_EQ(lstat(S(name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_uid, 2000u) << name;
    EXPECT_EQ(st.st_gid, 3000u) << name;
  }
  // To the guest: host 2000/3000 are 1000/1000, in every reply that has attributes.
  for (const proto::Attr& attr :
       {created.reply.create().entry().attr(), dir.reply.entry().attr(), link.reply.entry().attr(),
        fifo.reply.entry().attr(), b().Getattr(NodeOf("f")).reply.attr().attr(),
        b().Lookup(kRoot, "d").reply.entry().attr()}) {
    EXPECT_EQ(attr.uid(), kUser);
    EXPECT_EQ(attr.gid(), kGroup);
  }
  // An id no host rule covers is shown as it is.
  Result foreign = b().Lookup(kRoot, "foreign");
  EXPECT_EQ(foreign.reply.entry().attr().uid(), 5000u);
  EXPECT_EQ(foreign.reply.entry().attr().gid(), 6000u);
  Result page = b().Readdir(b().Opendir(kRoot).reply.opendir().handle(), 0, 64 * 1024, true);
  ASSERT_EQ(page.error, 0);
  int seen = 0;
  for (const proto::DirEntry& e : page.reply.readdir().entries()) {
    if (e.entry().node() == 0) continue;
    ++seen;
    EXPECT_EQ(e.entry().attr().uid(), e.name() == "foreign" ? 5000u : kUser) << e.name();
    EXPECT_EQ(e.entry().attr().gid(), e.name() == "foreign" ? 6000u : kGroup) << e.name();
  }
  EXPECT_EQ(seen, 5);
}

TEST_P(ConformanceTest, ChownTargetsAreTranslatedBothWays) {
  FsConfig config;
  config.uids = Ids({"map:1000:5000:10"});
  config.gids = Ids({"guest:1000:7000:10"});  // no way back: shown as the host id
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  proto::Request req;
  req.mutable_setattr()->set_node(NodeOf("f"));
  req.mutable_setattr()->set_valid(FATTR_UID | FATTR_GID);
  req.mutable_setattr()->set_uid(1009);
  req.mutable_setattr()->set_gid(1001);
  Result r = b().Call(req);
  ASSERT_EQ(r.error, 0);
  struct stat st;
  ASSERT_EQ(stat(S("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 5009u);
  EXPECT_EQ(st.st_gid, 7001u);
  EXPECT_EQ(r.reply.attr().attr().uid(), 1009u);
  EXPECT_EQ(r.reply.attr().attr().gid(), 7001u);
  // Past the range's end: kept as it is.
  req.mutable_setattr()->set_uid(1010);
  req.mutable_setattr()->set_valid(FATTR_UID);
  ASSERT_EQ(b().Call(req).error, 0);
  ASSERT_EQ(stat(S("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1010u);
}

TEST_P(ConformanceTest, ForbiddenGuestIdsAreRefusedWithEperm) {
  FsConfig config;
  config.uids = Ids({"forbid-guest:1000:1"});
  config.gids = Ids({"forbid-guest:50:2"});
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  const uint64_t f = NodeOf("f");
  // A forbidden caller: every request, before any syscall.
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Getattr(f).error, EPERM);
  EXPECT_EQ(b().Create(kRoot, "new", O_RDWR).error, EPERM);
  b().SetCaller(999, 51);
  EXPECT_EQ(b().Mkdir(kRoot, "dir").error, EPERM);
  EXPECT_EQ(access(S("new").c_str(), F_OK), -1);
  EXPECT_EQ(access(S("dir").c_str(), F_OK), -1);
  // Its neighbours are not.
  b().SetCaller(1001, 52);
  EXPECT_EQ(b().Getattr(f).error, 0);
  EXPECT_EQ(b().Mkdir(kRoot, "dir").error, 0);
  // A forbidden chown target, by an allowed caller.
  b().SetCaller(0, 0);
  proto::Request req;
  req.mutable_setattr()->set_node(f);
  req.mutable_setattr()->set_valid(FATTR_UID);
  req.mutable_setattr()->set_uid(1000);
  EXPECT_EQ(b().Call(req).error, EPERM);
  req.mutable_setattr()->set_valid(FATTR_GID);
  req.mutable_setattr()->set_gid(50);
  EXPECT_EQ(b().Call(req).error, EPERM);
  struct stat st;
  ASSERT_EQ(stat(S("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
}

std::string AclWithIds(std::initializer_list<std::pair<uint16_t, uint32_t>> entries) {
  std::string blob("\x02\x00\x00\x00", 4);
  for (const auto& [tag, id] : entries) {
    const char entry[8] = {static_cast<char>(tag),
                           static_cast<char>(tag >> 8),
                           7,
                           0,
                           static_cast<char>(id),
                           static_cast<char>(id >> 8),
                           static_cast<char>(id >> 16),
                           static_cast<char>(id >> 24)};
    blob.append(entry, 8);
  }
  return blob;
}

TEST_P(ConformanceTest, PosixAclIdsAreTranslatedBothWays) {
  constexpr uint16_t kUserObj = 0x01, kUserTag = 0x02, kGroupObj = 0x04, kGroupTag = 0x08,
                     kMask = 0x10, kOther = 0x20;
  constexpr uint32_t kNone = 0xffffffff;
  FsConfig config;
  config.xattr = true;
  config.posix_acl = true;
  config.uids = Ids({"map:1000:5000:10", "forbid-guest:7:1"});
  config.gids = Ids({"map:1000:6000:10"});
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x", 0640); }, config);
  auto acl = [&](uint32_t user, uint32_t group) {
    return AclWithIds({{kUserObj, kNone},
                       {kUserTag, user},
                       {kGroupObj, kNone},
                       {kGroupTag, group},
                       {kMask, kNone},
                       {kOther, kNone}});
  };
  ASSERT_EQ(b().Call(SetxattrReq(NodeOf("f"), "system.posix_acl_access", acl(1002, 1003))).error,
            0);
  char buf[256];
  const ssize_t n = getxattr(S("f").c_str(), "system.posix_acl_access", buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), acl(5002, 6003));
  Result got = b().Call(GetxattrReq(NodeOf("f"), "system.posix_acl_access", 256));
  ASSERT_EQ(got.error, 0);
  EXPECT_EQ(got.reply.xattr().value(), acl(1002, 1003));
  EXPECT_EQ(b().Call(GetxattrReq(NodeOf("f"), "system.posix_acl_access", 0)).reply.xattr().size(),
            static_cast<uint32_t>(n));
  // A forbidden id in an ACL entry, and a malformed ACL.
  EXPECT_EQ(b().Call(SetxattrReq(NodeOf("f"), "system.posix_acl_access", acl(7, 1003))).error,
            EPERM);
  EXPECT_EQ(b().Call(SetxattrReq(NodeOf("f"), "system.posix_acl_access", "\x02")).error, EINVAL);
  ASSERT_EQ(getxattr(S("f").c_str(), "system.posix_acl_access", buf, sizeof(buf)), n);
  EXPECT_EQ(std::string(buf, n), acl(5002, 6003));
}

TEST_P(ConformanceTest, XattrmapRenamesAndClearsTheMappedCapability) {
  FsConfig config;
  config.xattr = true;
  config.xattrmap = *XattrMap::Parse(":map::user.virtiofs.:");
  SetUpBoth(
      [](const std::string& r) {
        WriteFile(r + "/f", "x");
        setxattr((r + "/f").c_str(), "user.host", "h", 1, 0);
      },
      config);
  const uint64_t f = NodeOf("f");
  ASSERT_EQ(b().Call(SetxattrReq(f, "security.capability", "cap")).error, 0);
  char buf[16] = {};
  EXPECT_EQ(getxattr(S("f").c_str(), "user.virtiofs.security.capability", buf, sizeof(buf)), 3);
  proto::Request list;
  list.mutable_listxattr()->set_node(f);
  list.mutable_listxattr()->set_size(1000);
  Result l = b().Call(list);
  ASSERT_EQ(l.error, 0);
  EXPECT_EQ(l.reply.xattr().value(), std::string("security.capability\0", 20));
  // Opening for write clears it, as a write clears the real one (CVE-2021-20263).
  Result w = b().Open(f, O_WRONLY);
  ASSERT_EQ(w.error, 0);
  EXPECT_EQ(getxattr(S("f").c_str(), "user.virtiofs.security.capability", buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ENODATA);
}

// --- Data-path helpers: fallocate, lseek, copy_file_range --------------------------------

TEST_P(ConformanceTest, FallocateLseekCopyFileRange) {
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

// --- Read-only shares ----------------------------------------------------------------------

TEST_P(ConformanceTest, ReadonlyRefusesEveryChangeWithErofs) {
  FsConfig config;
  config.readonly = true;
  config.xattr = true;
  SetUpBoth(
      [](const std::string& r) {
        WriteFile(r + "/f", "x");
        mkdir((r + "/d").c_str(), 0755);
      },
      config);
  const uint64_t f = NodeOf("f");
  EXPECT_EQ(b().Mkdir(kRoot, "x").error, EROFS);
  EXPECT_EQ(b().Mknod(kRoot, "x", S_IFIFO | 0600).error, EROFS);
  EXPECT_EQ(b().Symlink(kRoot, "x", "y").error, EROFS);
  EXPECT_EQ(b().Create(kRoot, "x", O_RDWR).error, EROFS);
  EXPECT_EQ(b().Unlink(kRoot, "f").error, EROFS);
  EXPECT_EQ(b().Rmdir(kRoot, "d").error, EROFS);
  EXPECT_EQ(b().Open(f, O_WRONLY).error, EROFS);
  EXPECT_EQ(b().Open(f, O_RDONLY | O_TRUNC).error, EROFS);
  EXPECT_EQ(b().Call(SetxattrReq(f, "user.a", "1")).error, EROFS);
  proto::Request setattr;
  setattr.mutable_setattr()->set_node(f);
  setattr.mutable_setattr()->set_valid(FATTR_MODE);
  EXPECT_EQ(b().Call(setattr).error, EROFS);
  Result ro = b().Open(f, O_RDONLY);
  ASSERT_EQ(ro.error, 0);
  EXPECT_EQ(write(ro.fd.get(), "x", 1), -1);
  EXPECT_EQ(access(S("x").c_str(), F_OK), -1);
}

// --- Options ---------------------------------------------------------------------------

TEST_P(ConformanceTest, NoatimeOnlyWithPreserveNoatime) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  Result plain = b().Open(NodeOf("f"), O_RDONLY | O_NOATIME);
  ASSERT_EQ(plain.error, 0);
  EXPECT_FALSE(fcntl(plain.fd.get(), F_GETFL) & O_NOATIME);
  broker_.reset();
  FsConfig config;
  config.preserve_noatime = true;
  broker_ = std::make_unique<TestBroker>(share(), config, 2, GetParam());
  Result kept = b().Open(NodeOf("f"), O_RDONLY | O_NOATIME);
  ASSERT_EQ(kept.error, 0);
  EXPECT_TRUE(fcntl(kept.fd.get(), F_GETFL) & O_NOATIME);
}

TEST_P(ConformanceTest, KillSuidgidOnTruncateWithKillprivV2) {
  FsConfig config;
  config.killpriv_v2 = true;
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "xyz", 04755); }, config);
  proto::Request req;
  req.mutable_setattr()->set_node(NodeOf("f"));
  req.mutable_setattr()->set_valid(FATTR_SIZE);
  req.mutable_setattr()->set_size(1);
  ASSERT_EQ(b().Call(req).error, 0);
  struct stat st;
  stat(S("f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // Root (CAP_FSETID) keeps it, as on the host.
  ASSERT_EQ(truncate(M("f").c_str(), 1), 0);
  struct stat host;
  stat(M("f").c_str(), &host);
  EXPECT_EQ(st.st_mode, host.st_mode);
  req.mutable_setattr()->set_valid(FATTR_SIZE | FATTR_KILL_SUIDGID);
  req.mutable_setattr()->set_size(0);
  ASSERT_EQ(b().Call(req).error, 0);
  stat(S("f").c_str(), &st);
  EXPECT_EQ(st.st_mode & 07777, 0755u);  // The guest asked: cleared as for a non-root writer.
}

TEST_P(ConformanceTest, SubmountsAreAnnounced) {
  // A private mount namespace for this process, so the tmpfs is ours alone.
  ASSERT_EQ(unshare(CLONE_NEWNS), 0);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  FsConfig config;
  config.announce_submounts = true;
  SetUpBoth(
      [](const std::string& r) {
        mkdir((r + "/mnt").c_str(), 0755);
        mkdir((r + "/plain").c_str(), 0755);
        ASSERT_EQ(mount("tmpfs", (r + "/mnt").c_str(), "tmpfs", 0, "size=1m"), 0);
      },
      config);
  EXPECT_EQ(b().Lookup(kRoot, "mnt").reply.entry().attr().flags(),
            static_cast<uint32_t>(FUSE_ATTR_SUBMOUNT));
  EXPECT_EQ(b().Lookup(kRoot, "plain").reply.entry().attr().flags(), 0u);
  broker_.reset();
  umount2(S("mnt").c_str(), MNT_DETACH);
  umount2(M("mnt").c_str(), MNT_DETACH);
}

// --- Budget --------------------------------------------------------------------------------

TEST_P(ConformanceTest, FdBudgetGivesEnfileNeverACrash) {
  FsConfig config;
  config.fd_budget = 3;
  SetUpBoth(
      [](const std::string& r) {
        for (int i = 0; i < 5; ++i) WriteFile(r + "/f" + std::to_string(i), "x");
      },
      config);
  if (GetParam() == TestBroker::Mode::kFileHandles) {
    // File nodes hold handles, no fds: the budget does not limit them.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(b().Lookup(kRoot, "f" + std::to_string(i)).error, 0);
    return;
  }
  EXPECT_EQ(b().Lookup(kRoot, "f0").error, 0);
  EXPECT_EQ(b().Lookup(kRoot, "f1").error, 0);
  EXPECT_EQ(b().Lookup(kRoot, "f2").error, 0);
  EXPECT_EQ(b().Lookup(kRoot, "f3").error, ENFILE);
  EXPECT_EQ(b().Lookup(kRoot, "f0").error, 0);  // Known nodes need no new fd.
  b().Forget(NodeOf("f1"), 2);
  EXPECT_TRUE(Eventually([&] { return b().Lookup(kRoot, "f3").error == 0; }));
}

TEST_P(ConformanceTest, LockOwnersCountAgainstTheFdBudget) {
  FsConfig config;
  config.fd_budget = 4;
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); }, config);
  Result file = b().Open(NodeOf("f"), O_RDWR);  // A node and a handle: 2 fds (or 1).
  ASSERT_EQ(file.error, 0);
  auto lock = [&](uint64_t owner) {
    proto::Request req;
    req.mutable_setlk()->set_handle(file.reply.open().handle());
    req.mutable_setlk()->set_lock_owner(owner);
    req.mutable_setlk()->mutable_lock()->set_type(F_RDLCK);
    return b().Call(req).error;
  };
  EXPECT_EQ(lock(1), 0);
  EXPECT_EQ(lock(2), 0);
  // With file handles the node holds no fd: one more owner fits.
  if (GetParam() == TestBroker::Mode::kFileHandles) EXPECT_EQ(lock(4), 0);
  EXPECT_EQ(lock(3), ENFILE);
  EXPECT_EQ(lock(1), 0);  // An owner that has its file needs no new fd.
}

TEST_P(ConformanceTest, NoFdLeaksAcrossAWorkload) {
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "x"); });
  const std::set<int> before = OpenFds();
  for (int i = 0; i < 3; ++i) {
    Result c = b().Create(kRoot, "n", O_RDWR);
    ASSERT_EQ(c.error, 0);
    EXPECT_EQ(b().Release(c.reply.create().handle()).error, 0);
    b().Forget(c.reply.create().entry().node(), 1);
    EXPECT_EQ(b().Unlink(kRoot, "n").error, 0);
    Result d = b().Opendir(kRoot);
    proto::Request rel;
    rel.mutable_releasedir()->set_handle(d.reply.opendir().handle());
    EXPECT_EQ(b().Call(rel).error, 0);
  }
  // Forgets are one-way and may be served after later requests.
  EXPECT_TRUE(Eventually([&] { return OpenFds() == before; }));
  if (b().in_process()) {
    EXPECT_EQ(b().fs().handle_count(), 0u);
    EXPECT_EQ(b().fs().node_count(), 1u);
  }
}

// --- Guest users: what the guest kernel allowed, the host agrees to ---------------------
//
// The guest kernel checks each request against all of the caller's groups; FUSE
// carries only one. Each case compares the broker, called as the guest would call
// it, with the host as that user with all its groups (AsUser), on the mirror.

constexpr uid_t kNobody = 65534;        // The frontend's identity.
constexpr gid_t kSupplementary = 2001;  // kUser's second group (FUSE never says so).
const std::vector<gid_t> kUserGroups = {kGroup, kSupplementary};

struct Owner {
  uid_t uid;
  gid_t gid;
  mode_t mode;
};
void Own(const std::string& path, Owner owner) {
  ASSERT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0) << path;
  ASSERT_EQ(chmod(path.c_str(), owner.mode), 0) << path;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : ~0u;
}
gid_t GroupOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_gid : ~0u;
}

proto::Request SetattrReq(uint64_t node, uint32_t valid) {
  proto::Request req;
  req.mutable_setattr()->set_node(node);
  req.mutable_setattr()->set_valid(valid);
  return req;
}

TEST_P(ConformanceTest, OwnerChangesGroupToASupplementaryGroup) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x");
    Own(r + "/f", {kUser, kGroup, 06755});
  });
  proto::Request req = SetattrReq(NodeOf("f"), FATTR_GID);
  req.mutable_setattr()->set_gid(kSupplementary);
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Call(req).error, 0);
  EXPECT_EQ(AsUser(kUser, kGroup, kUserGroups,
                   [&] { return Err(fchownat(mfd(), "f", -1, kSupplementary, 0)); }),
            0);
  EXPECT_EQ(GroupOf(S("f")), kSupplementary);
  EXPECT_EQ(ModeOf(S("f")), ModeOf(M("f")));  // Set-id bits cleared as chown clears them.
  EXPECT_EQ(ModeOf(S("f")), 0755u);
  // Another owner is still only root's to give (the host's own rule).
  req.mutable_setattr()->set_valid(FATTR_UID);
  req.mutable_setattr()->set_uid(kUser + 1);
  EXPECT_EQ(b().Call(req).error, AsUser(kUser, kGroup, kUserGroups, [&] {
              return Err(fchownat(mfd(), "f", kUser + 1, -1, 0));
            }));
  EXPECT_EQ(b().Call(req).error, EPERM);
  // Someone else's file: no chown at all.
  b().SetCaller(kUser + 1, kGroup);
  req.mutable_setattr()->set_valid(FATTR_GID);
  EXPECT_EQ(b().Call(req).error, EPERM);
}

// The guest kernel clears S_ISGID from a chmod by someone outside the file's group
// (setattr_prepare); a member through a supplementary group keeps it, as here.
TEST_P(ConformanceTest, ChmodKeepsTheSetgidBitOfAGroupMember) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/f", "x");
    Own(r + "/f", {kUser, kSupplementary, 0755});
  });
  proto::Request req = SetattrReq(NodeOf("f"), FATTR_MODE);
  req.mutable_setattr()->set_mode(02755);
  b().SetCaller(kUser, kGroup);
  ASSERT_EQ(b().Call(req).error, 0);
  ASSERT_EQ(AsUser(kUser, kGroup, kUserGroups, [&] { return Err(fchmodat(mfd(), "f", 02755, 0)); }),
            0);
  EXPECT_EQ(ModeOf(S("f")), ModeOf(M("f")));
  EXPECT_EQ(ModeOf(S("f")), 02755u);
}

// A Linux 6.0+ guest clears S_ISGID from a new file's mode itself unless the
// caller is in the set-gid directory's group (it knows all the groups); the broker
// keeps what such a guest sends, and clears it for guests that do not say so.
TEST_P(ConformanceTest, NewSetgidFileOfAGroupMemberWhenTheGuestStrips) {
  SetUpBoth([](const std::string& r) {
    mkdir((r + "/sg").c_str(), 0);
    Own(r + "/sg", {0, kSupplementary, 02777});
  });
  const uint64_t sg = NodeOf("sg");
  b().SetCaller(kUser, kGroup, 022);
  proto::Request create;
  create.mutable_create()->set_parent(sg);
  create.mutable_create()->set_name("kept");
  create.mutable_create()->set_mode(02755);
  create.mutable_create()->set_flags(O_RDWR);
  create.mutable_create()->set_guest_strips_setgid(true);
  ASSERT_EQ(b().Call(create).error, 0);
  proto::Request mknod_req;
  mknod_req.mutable_mknod()->set_parent(sg);
  mknod_req.mutable_mknod()->set_name("node");
  mknod_req.mutable_mknod()->set_mode(S_IFREG | 02755);
  mknod_req.mutable_mknod()->set_guest_strips_setgid(true);
  ASSERT_EQ(b().Call(mknod_req).error, 0);
  ASSERT_EQ(
      AsUser(kUser, kGroup, kUserGroups,
             [&] {
               UniqueFd fd(openat(mfd(), "sg/kept", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 02755));
               return fd.valid() ? 0 : errno;
             }),
      0);
  EXPECT_EQ(ModeOf(S("sg/kept")), ModeOf(M("sg/kept")));
  EXPECT_EQ(ModeOf(S("sg/kept")), 02755u);
  EXPECT_EQ(ModeOf(S("sg/node")), 02755u);
  // A guest that does not say so: the host's rule for the caller's gid alone.
  create.mutable_create()->set_name("cleared");
  create.mutable_create()->set_guest_strips_setgid(false);
  ASSERT_EQ(b().Call(create).error, 0);
  EXPECT_EQ(ModeOf(S("sg/cleared")), 0755u);
}

TEST_P(ConformanceTest, DirectoriesOpenWithReadPermissionAlone) {
  SetUpBoth([](const std::string& r) {
    mkdir((r + "/mine").c_str(), 0);
    Own(r + "/mine", {kUser, kGroup, 0600});
    mkdir((r + "/ours").c_str(), 0);
    Own(r + "/ours", {0, kSupplementary, 0060});
    mkdir((r + "/primary").c_str(), 0);
    Own(r + "/primary", {0, kGroup, 0060});
  });
  b().SetCaller(kUser, kGroup);
  for (const char* name : {"mine", "ours", "primary"}) {
    const uint64_t node = NodeOf(name);
    Result r = b().Opendir(node);
    EXPECT_EQ(r.error,
              AsUser(kUser, kGroup, kUserGroups,
                     [&] {
                       UniqueFd fd(openat(mfd(), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                       return fd.valid() ? 0 : errno;
                     }))
        << name;
    EXPECT_EQ(r.error, 0) << name;
    if (r.error == 0) {
      EXPECT_EQ(b().Readdir(r.reply.opendir().handle(), 0, 4096, false).error, 0) << name;
    }
  }
}

TEST_P(ConformanceTest, ForeignFileMovesBetweenWorldWritableDirectories) {
  SetUpBoth([](const std::string& r) {
    for (const char* d : {"/a", "/b"}) {
      mkdir((r + d).c_str(), 0);
      Own(r + d, {0, 0, 0777});
    }
    WriteFile(r + "/a/f", "x", 0644);
  });
  proto::Request req;
  req.mutable_rename()->set_old_parent(NodeOf("a"));
  req.mutable_rename()->set_old_name("f");
  req.mutable_rename()->set_new_parent(NodeOf("b"));
  req.mutable_rename()->set_new_name("f");
  b().SetCaller(kUser, kGroup);
  EXPECT_EQ(b().Call(req).error, AsUser(kUser, kGroup, kUserGroups,
                                        [&] { return Err(renameat(mfd(), "a/f", mfd(), "b/f")); }));
  EXPECT_EQ(access(S("b/f").c_str(), F_OK), 0);
}

TEST_P(ConformanceTest, SupplementaryGroupGrantsAccess) {
  SetUpBoth([](const std::string& r) {
    mkdir((r + "/team").c_str(), 0);
    Own(r + "/team", {0, kSupplementary, 0770});
    WriteFile(r + "/team/doc", "x");
    Own(r + "/team/doc", {0, kSupplementary, 0660});
  });
  b().SetCaller(kUser, kGroup, 022);
  const uint64_t team = NodeOf("team");
  Result doc = b().Lookup(team, "doc");
  ASSERT_EQ(doc.error, 0);
  EXPECT_EQ(b().Open(doc.reply.entry().node(), O_RDWR).error,
            AsUser(kUser, kGroup, kUserGroups, [&] {
              UniqueFd fd(openat(mfd(), "team/doc", O_RDWR | O_CLOEXEC));
              return fd.valid() ? 0 : errno;
            }));
  Result created = b().Create(team, "new", O_RDWR, 0666);
  ASSERT_EQ(created.error, 0);
  struct stat st;
  ASSERT_EQ(stat(S("team/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUser);  // New files are the caller's.
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // utimes(NULL) by a writer who is not the owner; explicit times only the owner.
  proto::Request now = SetattrReq(doc.reply.entry().node(),
                                  FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW);
  EXPECT_EQ(b().Call(now).error, AsUser(kUser, kGroup, kUserGroups, [&] {
              return Err(utimensat(mfd(), "team/doc", nullptr, 0));
            }));
  EXPECT_EQ(b().Call(now).error, 0);
  proto::Request explicit_times = SetattrReq(doc.reply.entry().node(), FATTR_ATIME | FATTR_MTIME);
  const struct timespec times[2] = {{1, 0}, {2, 0}};
  EXPECT_EQ(b().Call(explicit_times).error, AsUser(kUser, kGroup, kUserGroups, [&] {
              return Err(utimensat(mfd(), "team/doc", times, 0));
            }));
  EXPECT_EQ(b().Call(explicit_times).error, EPERM);
}

TEST_P(ConformanceTest, OwnershipRulesStayTheHosts) {
  SetUpBoth([](const std::string& r) {
    WriteFile(r + "/theirs", "x");
    Own(r + "/theirs", {kUser + 1, kGroup, 0666});
    mkdir((r + "/sticky").c_str(), 0);
    Own(r + "/sticky", {0, 0, 01777});
    WriteFile(r + "/sticky/theirs", "x");
    Own(r + "/sticky/theirs", {kUser + 1, kGroup, 0666});
  });
  b().SetCaller(kUser, kGroup);
  proto::Request chmod_req = SetattrReq(NodeOf("theirs"), FATTR_MODE);
  chmod_req.mutable_setattr()->set_mode(0600);
  EXPECT_EQ(b().Call(chmod_req).error, AsUser(kUser, kGroup, kUserGroups, [&] {
              return Err(fchmodat(mfd(), "theirs", 0600, 0));
            }));
  EXPECT_EQ(b().Call(chmod_req).error, EPERM);
  EXPECT_EQ(b().Unlink(NodeOf("sticky"), "theirs").error, AsUser(kUser, kGroup, kUserGroups, [&] {
              return Err(unlinkat(mfd(), "sticky/theirs", 0));
            }));
  EXPECT_EQ(access(S("sticky/theirs").c_str(), F_OK), 0);
  EXPECT_EQ(b().Mknod(kRoot, "dev", S_IFCHR | 0600, makedev(1, 3)).error, EPERM);
}

// A writer who is not the owner: Linux clears S_ISUID, and S_ISGID with group-exec.
// Without --killpriv-v2 the guest kernel does it with a chmod of its own.
TEST_P(ConformanceTest, WriterWhoIsNotTheOwnerLosesSetIdBits) {
  for (const bool killpriv_v2 : {false, true}) {
    SCOPED_TRACE(killpriv_v2 ? "killpriv_v2" : "no killpriv_v2");
    FsConfig config;
    config.killpriv_v2 = killpriv_v2;
    broker_.reset();
    SetUpBoth(
        [](const std::string& r) {
          for (const char* name : {"/write", "/truncate", "/other"}) {
            WriteFile(r + name, "data");
            Own(r + name, {0, kSupplementary, 06770});
          }
        },
        config);
    b().SetCaller(kUser, kGroup);
    // The host as that user: the write and the truncate clear the bits themselves.
    AsUser(kUser, kGroup, kUserGroups, [&] {
      UniqueFd fd(openat(mfd(), "write", O_WRONLY | O_CLOEXEC));
      return Err(write(fd.get(), "x", 1));
    });
    AsUser(kUser, kGroup, kUserGroups, [&] {
      UniqueFd fd(openat(mfd(), "truncate", O_WRONLY | O_CLOEXEC));
      return Err(ftruncate(fd.get(), 1));
    });
    // The guest: data through the frontend's fd (no CAP_FSETID: the kernel clears);
    // and the kill as the guest kernel sends it.
    const uint64_t write_node = NodeOf("write");
    Result w = b().Open(write_node, O_WRONLY);
    ASSERT_EQ(w.error, 0);
    if (!killpriv_v2) {
      proto::Request kill = SetattrReq(write_node, FATTR_MODE);
      kill.mutable_setattr()->set_mode(0770);
      EXPECT_EQ(b().Call(kill).error, 0);
    }
    // As the frontend writes: without capabilities.
    EXPECT_EQ(AsUser(kNobody, kNobody, {}, [&] { return Err(pwrite(w.fd.get(), "x", 1, 0)); }), 0);
    proto::Request trunc = SetattrReq(NodeOf("truncate"), FATTR_SIZE);
    trunc.mutable_setattr()->set_size(1);
    if (killpriv_v2) {
      trunc.mutable_setattr()->set_valid(FATTR_SIZE | FATTR_KILL_SUIDGID);
    } else {
      trunc.mutable_setattr()->set_valid(FATTR_SIZE | FATTR_MODE);
      trunc.mutable_setattr()->set_mode(0770);
    }
    EXPECT_EQ(b().Call(trunc).error, 0);
    for (const char* name : {"write", "truncate"}) {
      EXPECT_EQ(ModeOf(S(name)), ModeOf(M(name))) << name;
      EXPECT_EQ(ModeOf(S(name)), 0770u) << name;
    }
    // A chmod that does more than drop set-id bits is still the owner's alone.
    proto::Request more = SetattrReq(NodeOf("other"), FATTR_MODE);
    more.mutable_setattr()->set_mode(0777);
    EXPECT_EQ(b().Call(more).error, EPERM);
    more.mutable_setattr()->set_mode(06777);
    EXPECT_EQ(b().Call(more).error, EPERM);
  }
}

TEST_P(ConformanceTest, OnlyRootSetsFileCapabilities) {
  // A valid vfs_cap_data (revision 2, no capabilities).
  const std::string cap(
      "\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00",
      20);
  for (const bool mapped : {false, true}) {
    SCOPED_TRACE(mapped ? "remapped" : "plain");
    FsConfig config;
    config.xattr = true;
    if (mapped) config.xattrmap = *XattrMap::Parse(":map::user.virtiofs.:");
    broker_.reset();
    SetUpBoth(
        [](const std::string& r) {
          WriteFile(r + "/f", "x");
          Own(r + "/f", {kUser, kGroup, 0755});
        },
        config);
    const uint64_t f = NodeOf("f");
    b().SetCaller(kUser, kGroup);
    UniqueFd host_file(open(M("f").c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(
        b().Call(SetxattrReq(f, "security.capability", cap)).error,
        AsUser(kUser, kGroup, kUserGroups, [&] {
          return Err(fsetxattr(host_file.get(), "security.capability", cap.data(), cap.size(), 0));
        }));
    EXPECT_EQ(b().Call(SetxattrReq(f, "security.capability", cap)).error, EPERM);
    b().SetCaller(0, 0);
    ASSERT_EQ(b().Call(SetxattrReq(f, "security.capability", cap)).error, 0);
    b().SetCaller(kUser, kGroup);
    proto::Request remove;
    remove.mutable_removexattr()->set_node(f);
    remove.mutable_removexattr()->set_name("security.capability");
    EXPECT_EQ(b().Call(remove).error, EPERM);
  }
}

// CVE-2021-20263: every write clears a remapped security.capability, as the kernel
// clears the real one, also through a handle opened before the capability was set.
TEST_P(ConformanceTest, WritesThroughAnOpenHandleClearTheMappedCapability) {
  FsConfig config;
  config.xattr = true;
  config.xattrmap = *XattrMap::Parse(":map::user.virtiofs.:");
  SetUpBoth([](const std::string& r) { WriteFile(r + "/f", "data"); }, config);
  const uint64_t f = NodeOf("f");
  auto has_cap = [&] {
    return getxattr(S("f").c_str(), "user.virtiofs.security.capability", nullptr, 0) >= 0;
  };
  Result w = b().Open(f, O_RDWR);
  ASSERT_EQ(w.error, 0);
  EXPECT_FALSE(w.reply.open().kill_priv_on_write());
  const uint64_t handle = w.reply.open().handle();
  ASSERT_EQ(b().Call(SetxattrReq(f, "security.capability", "cap")).error, 0);
  ASSERT_TRUE(has_cap());
  // What the frontend sends before its next write through `handle`.
  proto::Request kill = SetattrReq(f, FATTR_FH);
  kill.mutable_setattr()->set_handle(handle);
  kill.mutable_setattr()->set_kill_priv(true);
  EXPECT_EQ(b().Call(kill).error, 0);
  EXPECT_FALSE(has_cap());
  // Writes the broker makes itself: fallocate and copy_file_range.
  proto::Request fallocate_req;
  fallocate_req.mutable_fallocate()->set_handle(handle);
  fallocate_req.mutable_fallocate()->set_length(8192);
  ASSERT_EQ(b().Call(SetxattrReq(f, "security.capability", "cap")).error, 0);
  EXPECT_EQ(b().Call(fallocate_req).error, 0);
  EXPECT_FALSE(has_cap());
  proto::Request copy;
  copy.mutable_copy_file_range()->set_handle_in(handle);
  copy.mutable_copy_file_range()->set_handle_out(handle);
  copy.mutable_copy_file_range()->set_offset_out(100);
  copy.mutable_copy_file_range()->set_length(2);
  ASSERT_EQ(b().Call(SetxattrReq(f, "security.capability", "cap")).error, 0);
  EXPECT_EQ(b().Call(copy).error, 0);
  EXPECT_FALSE(has_cap());
  // Only a handle open for writing may ask.
  Result r = b().Open(f, O_RDONLY);
  ASSERT_EQ(r.error, 0);
  kill.mutable_setattr()->set_handle(r.reply.open().handle());
  EXPECT_EQ(b().Call(kill).error, EBADF);
}

// Every case again with the broker in a child under its seccomp policy (kill):
// a syscall missing from the allow-list fails the case with SIGSYS; and again
// with non-directories held as file handles instead of fds.
INSTANTIATE_TEST_SUITE_P(Broker, ConformanceTest,
                         ::testing::Values(TestBroker::Mode::kInProcess,
                                           TestBroker::Mode::kForkedSeccomp,
                                           TestBroker::Mode::kFileHandles),
                         [](const auto& info) -> std::string {
                           switch (info.param) {
                             case TestBroker::Mode::kInProcess:
                               return "InProcess";
                             case TestBroker::Mode::kForkedSeccomp:
                               return "Seccomp";
                             case TestBroker::Mode::kFileHandles:
                               break;
                           }
                           return "FileHandles";
                         });

}  // namespace
}  // namespace virtiofsd::testing
