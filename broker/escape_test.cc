// The escape suite: a hostile frontend that knows the protocol tries to reach
// files outside the shared directory (symlinks, a symlink swapped in during a
// lookup, '..', names with '/', stale and forged ids, device nodes, links, rename
// races). Afterwards nothing outside the share was read, written, created or
// revealed. This suite runs the broker with no sandbox at all (the weakest mode):
// the broker's own checks must hold by themselves.

#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "broker/testing/test_broker.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

constexpr uint64_t kRoot = 1;

void WriteFile(const std::string& path, const std::string& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

std::string ReadFd(int fd) {
  char buf[64];
  const ssize_t n = pread(fd, buf, sizeof(buf), 0);
  return n < 0 ? "" : std::string(buf, n);
}

// Everything about a tree that an escape could change: names, types, sizes,
// modes, owners, link counts, contents, mtimes.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  std::vector<std::string> dirs = {""};
  while (!dirs.empty()) {
    const std::string rel = dirs.back();
    dirs.pop_back();
    DIR* d = opendir((root + rel).c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = rel + "/" + name;
      struct stat st;
      lstat((root + path).c_str(), &st);
      std::string data;
      if (S_ISREG(st.st_mode)) {
        UniqueFd fd(open((root + path).c_str(), O_RDONLY | O_CLOEXEC));
        data = ReadFd(fd.get());
      }
      out[path] = std::to_string(st.st_mode) + ":" + std::to_string(st.st_uid) + ":" +
                  std::to_string(st.st_nlink) + ":" + std::to_string(st.st_size) + ":" +
                  std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                  ":" + data;
      if (S_ISDIR(st.st_mode)) dirs.push_back(path);
    }
    closedir(d);
  }
  return out;
}

class EscapeTest : public ::testing::Test {
 protected:
  EscapeTest() {
    mkdir(tmp_.Path("outside").c_str(), 0755);
    WriteFile(tmp_.Path("outside/secret"), "outside secret");
    mkdir(tmp_.Path("share").c_str(), 0755);
    mkdir(tmp_.Path("share/d").c_str(), 0755);
    WriteFile(tmp_.Path("share/d/secret"), "inside");
    symlink(tmp_.Path("outside/secret").c_str(), tmp_.Path("share/abs").c_str());
    symlink("../outside/secret", tmp_.Path("share/rel").c_str());
    symlink("../outside", tmp_.Path("share/dirlink").c_str());
    symlink(tmp_.Path("outside").c_str(), tmp_.Path("share/absdir").c_str());
    outside_before_ = Snapshot(tmp_.Path("outside"));
    parent_before_ = Names(tmp_.path());
    broker_ = std::make_unique<TestBroker>(tmp_.Path("share"), FsConfig(), 4);
  }

  ~EscapeTest() override {
    broker_.reset();
    EXPECT_EQ(Snapshot(tmp_.Path("outside")), outside_before_);
    EXPECT_EQ(Names(tmp_.path()), parent_before_);
  }

  static std::set<std::string> Names(const std::string& dir) {
    std::set<std::string> names;
    DIR* d = opendir(dir.c_str());
    while (dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
    return names;
  }

  uint64_t NodeOf(const std::string& name, uint64_t parent = kRoot) {
    Result r = b().Lookup(parent, name);
    EXPECT_EQ(r.error, 0) << name;
    return r.reply.entry().node();
  }
  TestBroker& b() { return *broker_; }

  TempDir tmp_;
  std::map<std::string, std::string> outside_before_;
  std::set<std::string> parent_before_;
  std::unique_ptr<TestBroker> broker_;
};

TEST_F(EscapeTest, SymlinksOutAreNeverFollowed) {
  for (const char* link : {"abs", "rel", "dirlink", "absdir"}) {
    const uint64_t node = NodeOf(link);
    Result attr = b().Getattr(node);
    ASSERT_EQ(attr.error, 0);
    EXPECT_TRUE(S_ISLNK(attr.reply.attr().attr().mode())) << link;
    EXPECT_EQ(b().Open(node, O_RDONLY).error, EACCES) << link;
    EXPECT_EQ(b().Open(node, O_RDWR | O_TRUNC).error, EACCES) << link;
    EXPECT_EQ(b().Opendir(node).error, ENOTDIR) << link;
    EXPECT_EQ(b().Lookup(node, "secret").error, ENOTDIR) << link;
    EXPECT_EQ(b().Create(node, "pwned", O_RDWR).error, ENOTDIR) << link;
    EXPECT_EQ(b().Mkdir(node, "pwned").error, ENOTDIR) << link;
    EXPECT_EQ(b().Create(kRoot, link, O_RDWR | O_TRUNC).error, ELOOP) << link;
    proto::Request setattr;
    setattr.mutable_setattr()->set_node(node);
    setattr.mutable_setattr()->set_valid(FATTR_MODE);
    setattr.mutable_setattr()->set_mode(0777);
    EXPECT_EQ(b().Call(setattr).error, EOPNOTSUPP) << link;
    setattr.mutable_setattr()->set_valid(FATTR_SIZE);
    EXPECT_EQ(b().Call(setattr).error, EINVAL) << link;
    // chown and utimes act on the link itself.
    setattr.mutable_setattr()->set_valid(FATTR_UID | FATTR_MTIME);
    setattr.mutable_setattr()->set_uid(1234);
    setattr.mutable_setattr()->set_mtime(1);
    EXPECT_EQ(b().Call(setattr).error, 0) << link;
    // A hard link to the symlink links the symlink, not its target.
    proto::Request link_req;
    link_req.mutable_link()->set_node(node);
    link_req.mutable_link()->set_new_parent(kRoot);
    link_req.mutable_link()->set_new_name(std::string(link) + "-hard");
    Result hard = b().Call(link_req);
    ASSERT_EQ(hard.error, 0) << link;
    EXPECT_TRUE(S_ISLNK(hard.reply.entry().attr().mode()));
  }
}

TEST_F(EscapeTest, NamesCannotClimbOrCarryPaths) {
  const uint64_t d = NodeOf("d");
  for (const std::string& name : std::vector<std::string>{
           "..", ".", "../outside", "../../outside/secret", tmp_.Path("outside/secret"), "d/../..",
           std::string("..\0x", 4), "secret/"}) {
    EXPECT_EQ(b().Lookup(d, name).error, EINVAL) << name;
    EXPECT_EQ(b().Create(d, name, O_RDWR).error, EINVAL) << name;
    EXPECT_EQ(b().Symlink(d, name, "x").error, EINVAL) << name;
    EXPECT_EQ(b().Mknod(d, name, S_IFREG | 0600).error, EINVAL) << name;
    EXPECT_EQ(b().Mkdir(d, name).error, EINVAL) << name;
    EXPECT_EQ(b().Unlink(d, name).error, EINVAL) << name;
    EXPECT_EQ(b().Rmdir(d, name).error, EINVAL) << name;
    proto::Request rename;
    rename.mutable_rename()->set_old_parent(d);
    rename.mutable_rename()->set_old_name("secret");
    rename.mutable_rename()->set_new_parent(d);
    rename.mutable_rename()->set_new_name(name);
    EXPECT_EQ(b().Call(rename).error, EINVAL) << name;
    proto::Request link;
    link.mutable_link()->set_node(NodeOf("secret", d));
    link.mutable_link()->set_new_parent(d);
    link.mutable_link()->set_new_name(name);
    EXPECT_EQ(b().Call(link).error, EINVAL) << name;
  }
}

TEST_F(EscapeTest, StaleAndForgedIdsFindNothing) {
  const uint64_t d = NodeOf("d");
  const uint64_t secret = NodeOf("secret", d);
  Result open = b().Open(secret, O_RDONLY);
  ASSERT_EQ(open.error, 0);
  const uint64_t handle = open.reply.open().handle();
  b().Forget(secret, 1);
  ASSERT_EQ(b().Release(handle).error, 0);
  // The forget is one-way: wait until a serving thread has taken it.
  for (int i = 0; i < 2000 && b().Getattr(secret).error == 0; ++i) usleep(1000);
  std::vector<uint64_t> forged = {0,
                                  2,
                                  3,
                                  1000,
                                  secret,
                                  secret + (uint64_t{1} << 32),
                                  d + (uint64_t{7} << 32),
                                  ~uint64_t{0},
                                  uint64_t{1} << 63};
  for (uint64_t id : forged) {
    EXPECT_EQ(b().Getattr(id).error, ESTALE) << id;
    EXPECT_EQ(b().Open(id, O_RDONLY).error, ESTALE) << id;
    EXPECT_EQ(b().Lookup(id, "secret").error, ESTALE) << id;
    EXPECT_EQ(b().Create(id, "x", O_RDWR).error, ESTALE) << id;
    b().Forget(id, 1000);
    proto::Request fsync;
    fsync.mutable_fsync()->set_handle(id == secret ? handle : id);
    EXPECT_EQ(b().Call(fsync).error, EBADF) << id;
    EXPECT_EQ(b().Readdir(id, 0, 4096, true).error, EBADF) << id;
    EXPECT_EQ(b().Release(id).error, EBADF) << id;
  }
  EXPECT_EQ(b().Getattr(kRoot).error, 0);
  EXPECT_EQ(b().Getattr(d).error, 0);
}

TEST_F(EscapeTest, DeviceNodesNeverOpen) {
  // The guest (as root) may make device nodes, and the host may have put some
  // there: none is ever opened.
  Result made = b().Mknod(kRoot, "mem", S_IFCHR | 0666, makedev(1, 1));
  ASSERT_EQ(made.error, 0);
  ASSERT_EQ(mknod(tmp_.Path("share/hostnull").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(mknod(tmp_.Path("share/fifo").c_str(), S_IFIFO | 0666, 0), 0);
  for (const char* name : {"mem", "hostnull", "fifo"}) {
    const uint64_t node = NodeOf(name);
    for (int flags : {O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK}) {
      EXPECT_EQ(b().Open(node, flags).error, EACCES) << name;
    }
    EXPECT_EQ(b().Create(kRoot, name, O_RDWR).error, EACCES) << name;
    proto::Request truncate;
    truncate.mutable_setattr()->set_node(node);
    truncate.mutable_setattr()->set_valid(FATTR_SIZE);
    EXPECT_EQ(b().Call(truncate).error, EINVAL) << name;
  }
}

TEST_F(EscapeTest, SymlinkSwappedInDuringLookups) {
  // A host-side (or second guest-side) racer swaps share/d between a real
  // directory and a symlink to the outside, while the hostile frontend looks up,
  // opens and creates beneath it as fast as it can.
  ASSERT_EQ(symlink(tmp_.Path("outside").c_str(), tmp_.Path("share/swap").c_str()), 0);
  std::atomic<bool> stop{false};
  std::thread racer([&] {
    const std::string d = tmp_.Path("share/d"), swap = tmp_.Path("share/swap");
    while (!stop) {
      syscall(SYS_renameat2, AT_FDCWD, d.c_str(), AT_FDCWD, swap.c_str(), RENAME_EXCHANGE);
    }
  });
  int opened = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string name = i % 2 ? "d" : "swap";
    Result dir = b().Lookup(kRoot, name);
    if (dir.error != 0) continue;
    const uint64_t node = dir.reply.entry().node();
    Result secret = b().Lookup(node, "secret");
    if (secret.error == 0) {
      Result file = b().Open(secret.reply.entry().node(), O_RDWR);
      if (file.error == 0) {
        ++opened;
        EXPECT_EQ(ReadFd(file.fd.get()), "inside");
        b().Release(file.reply.open().handle());
      }
      b().Forget(secret.reply.entry().node(), 1);
    }
    Result created = b().Create(node, "pwned", O_RDWR);
    if (created.error == 0) {
      b().Release(created.reply.create().handle());
      b().Unlink(node, "pwned");
    }
    b().Forget(node, 1);
  }
  stop = true;
  racer.join();
  EXPECT_GT(opened, 0);  // The race really ran through the inside directory.
}

TEST_F(EscapeTest, RenameRacesStayInside) {
  // Guest-side renames shuffle a directory around while lookups run beneath it.
  ASSERT_EQ(mkdir(tmp_.Path("share/a").c_str(), 0755), 0);
  std::atomic<bool> stop{false};
  std::thread mover([&] {
    TestBroker& broker = b();
    const uint64_t a = NodeOf("a");
    while (!stop) {
      proto::Request req;
      req.mutable_rename()->set_old_parent(kRoot);
      req.mutable_rename()->set_old_name("d");
      req.mutable_rename()->set_new_parent(a);
      req.mutable_rename()->set_new_name("d");
      broker.Call(req);
      req.mutable_rename()->set_old_parent(a);
      req.mutable_rename()->set_new_parent(kRoot);
      broker.Call(req);
    }
  });
  for (int i = 0; i < 1000; ++i) {
    Result dir = b().Lookup(kRoot, "d");
    if (dir.error != 0) continue;
    Result file = b().Lookup(dir.reply.entry().node(), "secret");
    if (file.error == 0) {
      Result opened = b().Open(file.reply.entry().node(), O_RDONLY);
      if (opened.error == 0) {
        EXPECT_EQ(ReadFd(opened.fd.get()), "inside");
      }
    }
  }
  stop = true;
  mover.join();
}

TEST_F(EscapeTest, HardLinksCannotReachOutsideFiles) {
  // A node exists only for what a lookup beneath the share found, so a link can
  // only name inside files; a symlink's link is the symlink.
  proto::Request link;
  link.mutable_link()->set_node(NodeOf("abs"));
  link.mutable_link()->set_new_parent(NodeOf("d"));
  link.mutable_link()->set_new_name("escape");
  Result r = b().Call(link);
  ASSERT_EQ(r.error, 0);
  EXPECT_TRUE(S_ISLNK(r.reply.entry().attr().mode()));
  EXPECT_EQ(b().Open(r.reply.entry().node(), O_RDONLY).error, EACCES);
}

}  // namespace
}  // namespace virtiofsd::testing
