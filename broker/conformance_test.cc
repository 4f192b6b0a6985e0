// The cross-family conformance suite (testing/conformance.h): id translation,
// read-only shares, options, the fd budget and the guest users' ownership rules,
// each of which spans several handler families. The families' own cases are in
// entry_ops_test, file_ops_test, dir_ops_test and xattr_ops_test.

#include "broker/testing/conformance.h"

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
#include "common/channel/broker_wire.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

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

INSTANTIATE_TEST_SUITE_P(Broker, ConformanceTest, AllModes(), ModeName);

}  // namespace
}  // namespace virtiofsd::testing
