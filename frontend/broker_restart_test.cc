// A broker replaced by a fresh one under a served guest (frontend/broker_link.h,
// frontend/node_map.h): FUSE requests through the session's rooms to a real
// in-process broker, which the test kills and replaces with another on the same
// directory, as the launcher does.

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "frontend/fuse_data_path.h"
#include "frontend/fuse_dir_ops.h"
#include "frontend/fuse_file_ops.h"
#include "frontend/fuse_locks.h"
#include "frontend/fuse_name_ops.h"
#include "frontend/fuse_node_ops.h"
#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::Name;
using testing::ReadIn;
using testing::RequestSpec;
using testing::SessionHarness;

std::string Contents(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void WriteHostFile(const std::string& path, const std::string& data) {
  std::ofstream(path) << data;
}

class BrokerRestartTest : public ::testing::Test {
 protected:
  // LOOKUP; the guest's node id, or 0 with the errno in `error`.
  uint64_t Lookup(uint64_t parent, const std::string& name, int* error = nullptr) {
    FuseReply reply = harness_.Call(&fuse_op::Lookup, FUSE_LOOKUP, parent, Name(name));
    if (error != nullptr) *error = reply.error;
    if (reply.error != 0) return 0;
    return reply.As<fuse_entry_out>().nodeid;
  }
  FuseReply Getattr(uint64_t node) {
    fuse_getattr_in in{};
    return harness_.Call(&fuse_op::Getattr, FUSE_GETATTR, node, Arg(in));
  }
  uint64_t Open(uint64_t node, uint32_t flags) {
    fuse_open_in in{};
    in.flags = flags;
    FuseReply reply = harness_.Call(&fuse_op::Open, FUSE_OPEN, node, Arg(in));
    EXPECT_EQ(reply.error, 0);
    return reply.As<fuse_open_out>().fh;
  }
  FuseReply Write(uint64_t node, uint64_t fh, uint64_t offset, const std::string& data) {
    fuse_write_in in{};
    in.fh = fh;
    in.offset = offset;
    in.size = static_cast<uint32_t>(data.size());
    return harness_.Call(
        &fuse_op::Write,
        {.opcode = FUSE_WRITE, .nodeid = node, .args = Arg(in), .write_data = data});
  }
  FuseReply Read(uint64_t node, uint64_t fh, uint32_t size) {
    return harness_.Call(&fuse_op::Read, FUSE_READ, node, Arg(ReadIn(fh, 0, size)));
  }
  uint64_t HostIno(const std::string& relative) {
    struct stat st;
    EXPECT_EQ(stat(harness_.dir().Path(relative).c_str(), &st), 0);
    return st.st_ino;
  }

  SessionHarness harness_;
};

// Without a new broker every request fails: the state the guest had before.
TEST_F(BrokerRestartTest, WithoutANewBrokerEveryRequestFailsWithEio) {
  WriteHostFile(harness_.dir().Path("f"), "data");
  const uint64_t f = Lookup(FUSE_ROOT_ID, "f");
  ASSERT_NE(f, 0u);
  harness_.KillBroker();
  EXPECT_EQ(Getattr(f).error, EIO);
  int error = 0;
  Lookup(FUSE_ROOT_ID, "f", &error);
  EXPECT_EQ(error, EIO);
  EXPECT_FALSE(harness_.context().broker_up());
}

// Only a broker that is gone is replaced: a channel offered while the broker
// serves is refused, and service goes on through the broker that serves.
TEST_F(BrokerRestartTest, ANewChannelIsRefusedWhileTheBrokerServes) {
  WriteHostFile(harness_.dir().Path("f"), "data");
  const uint64_t f = Lookup(FUSE_ROOT_ID, "f");
  testing::TestBroker other(harness_.dir().path());
  absl::Status replaced = harness_.context().broker_link().Replace(
      std::shared_ptr<BrokerClient>(&other.client(), [](BrokerClient*) {}));
  EXPECT_TRUE(absl::IsFailedPrecondition(replaced)) << replaced;
  EXPECT_EQ(harness_.context().broker_link().restarts(), 0u);
  EXPECT_EQ(Getattr(f).error, 0);
}

// Nodes looked up before are found again by the names they were found by, deep
// ones through their directories, and keep their ids.
TEST_F(BrokerRestartTest, NodesAreFoundAgainByTheirNames) {
  ASSERT_EQ(mkdir(harness_.dir().Path("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(harness_.dir().Path("a/b").c_str(), 0755), 0);
  WriteHostFile(harness_.dir().Path("a/b/f"), "deep");
  const uint64_t a = Lookup(FUSE_ROOT_ID, "a");
  const uint64_t b = Lookup(a, "b");
  const uint64_t f = Lookup(b, "f");
  ASSERT_NE(f, 0u);

  harness_.RestartBroker();
  EXPECT_TRUE(harness_.context().broker_up());
  FuseReply attr = Getattr(f);
  ASSERT_EQ(attr.error, 0);
  EXPECT_EQ(attr.As<fuse_attr_out>().attr.ino, HostIno("a/b/f"));
  EXPECT_EQ(attr.As<fuse_attr_out>().attr.size, 4u);
  // The same file looked up again is the same node for the guest.
  EXPECT_EQ(Lookup(b, "f"), f);
  EXPECT_EQ(Lookup(FUSE_ROOT_ID, "a"), a);
  // A renamed directory is found by its new name.
  fuse_rename_in rename{};
  rename.newdir = FUSE_ROOT_ID;
  ASSERT_EQ(harness_.Call(&fuse_op::Rename, FUSE_RENAME, a, Arg(rename) + Name("b") + Name("moved"))
                .error,
            0);
  harness_.RestartBroker();
  EXPECT_EQ(Getattr(f).error, 0);
  EXPECT_EQ(Getattr(b).As<fuse_attr_out>().attr.ino, HostIno("moved"));
}

// A name that is gone on the host, or now names another file, is ESTALE: never
// silently another file.
TEST_F(BrokerRestartTest, RemovedOrReplacedFilesAreStale) {
  WriteHostFile(harness_.dir().Path("removed"), "x");
  WriteHostFile(harness_.dir().Path("replaced"), "old");
  WriteHostFile(harness_.dir().Path("kept"), "kept");
  const uint64_t removed = Lookup(FUSE_ROOT_ID, "removed");
  const uint64_t replaced = Lookup(FUSE_ROOT_ID, "replaced");
  const uint64_t kept = Lookup(FUSE_ROOT_ID, "kept");

  harness_.RestartBroker();
  ASSERT_EQ(unlink(harness_.dir().Path("removed").c_str()), 0);
  WriteHostFile(harness_.dir().Path("new"), "another file");
  ASSERT_EQ(rename(harness_.dir().Path("new").c_str(), harness_.dir().Path("replaced").c_str()), 0);
  EXPECT_EQ(Getattr(removed).error, ESTALE);
  EXPECT_EQ(Getattr(replaced).error, ESTALE);
  EXPECT_EQ(Getattr(kept).error, 0);
  // Its name looked up afresh is the new file, under a new id.
  const uint64_t fresh = Lookup(FUSE_ROOT_ID, "replaced");
  ASSERT_NE(fresh, 0u);
  EXPECT_NE(fresh, replaced);
  EXPECT_EQ(Getattr(fresh).As<fuse_attr_out>().attr.size, 12u);
}

// The guest's FORGETs count: a node it still holds is found again, one it has
// forgotten is no longer known (the new broker never saw it).
TEST_F(BrokerRestartTest, ForgottenNodesAreDroppedAndHeldOnesFoundAgain) {
  WriteHostFile(harness_.dir().Path("f"), "f");
  WriteHostFile(harness_.dir().Path("g"), "g");
  const uint64_t f = Lookup(FUSE_ROOT_ID, "f");
  ASSERT_EQ(Lookup(FUSE_ROOT_ID, "f"), f);
  const uint64_t g = Lookup(FUSE_ROOT_ID, "g");
  harness_.RestartBroker();
  fuse_forget_in forget{};
  forget.nlookup = 1;
  harness_.Call(&fuse_op::Forget, FUSE_FORGET, f, Arg(forget));
  EXPECT_EQ(Getattr(f).error, 0);
  harness_.Call(&fuse_op::Forget, FUSE_FORGET, f, Arg(forget));
  EXPECT_EQ(Getattr(f).error, ESTALE);
  fuse_batch_forget_in batch{};
  batch.count = 1;
  fuse_forget_one one{};
  one.nodeid = g;
  one.nlookup = 1;
  harness_.Call(&fuse_op::BatchForget, FUSE_BATCH_FORGET, 0, Arg(batch) + Arg(one));
  EXPECT_EQ(Getattr(g).error, ESTALE);
  // Looked up afresh, the name is a node again.
  EXPECT_NE(Lookup(FUSE_ROOT_ID, "f"), 0u);
}

// A file unlinked by the guest before the restart has no name to be found by.
TEST_F(BrokerRestartTest, NodeUnlinkedBeforeTheRestartIsStale) {
  WriteHostFile(harness_.dir().Path("f"), "x");
  const uint64_t f = Lookup(FUSE_ROOT_ID, "f");
  ASSERT_EQ(harness_.Call(&fuse_op::Unlink, FUSE_UNLINK, FUSE_ROOT_ID, Name("f")).error, 0);
  WriteHostFile(harness_.dir().Path("f"), "a new f");
  harness_.RestartBroker();
  EXPECT_EQ(Getattr(f).error, ESTALE);
}

// Files open before keep reading and writing through the fd the frontend holds;
// FSYNC re-opens the broker's handle; FLUSH and RELEASE are answered; locks are
// EIO; files created after do not take the ids of those from before.
TEST_F(BrokerRestartTest, OpenFilesCarryOnAndNewFilesGetFreshIds) {
  WriteHostFile(harness_.dir().Path("f"), "0123456789");
  const uint64_t f = Lookup(FUSE_ROOT_ID, "f");
  const uint64_t fh = Open(f, O_RDWR);

  harness_.RestartBroker();
  ASSERT_EQ(Write(f, fh, 2, "ab").error, 0);
  FuseReply read = Read(f, fh, 100);
  ASSERT_EQ(read.error, 0);
  EXPECT_EQ(read.payload, "01ab456789");
  fuse_fsync_in fsync{};
  fsync.fh = fh;
  EXPECT_EQ(harness_.Call(&fuse_op::Fsync, FUSE_FSYNC, f, Arg(fsync)).error, 0);
  fuse_lk_in lock{};
  lock.fh = fh;
  lock.owner = 1;
  lock.lk.type = F_WRLCK;
  lock.lk.end = 10;
  EXPECT_EQ(harness_.Call(&fuse_op::Setlk, FUSE_SETLK, f, Arg(lock)).error, EIO);

  // A new file, opened and written through the new broker.
  fuse_create_in create{};
  create.flags = O_RDWR;
  create.mode = S_IFREG | 0644;
  FuseReply created =
      harness_.Call(&fuse_op::Create, FUSE_CREATE, FUSE_ROOT_ID, Arg(create) + Name("g"));
  ASSERT_EQ(created.error, 0);
  fuse_entry_out entry = created.As<fuse_entry_out>();
  fuse_open_out opened;
  memcpy(&opened, created.payload.data() + sizeof(entry), sizeof(opened));
  EXPECT_NE(entry.nodeid, f);
  EXPECT_NE(opened.fh, fh);
  ASSERT_EQ(Write(entry.nodeid, opened.fh, 0, "new").error, 0);
  EXPECT_EQ(Getattr(f).As<fuse_attr_out>().attr.ino, HostIno("f"));
  EXPECT_EQ(Getattr(entry.nodeid).As<fuse_attr_out>().attr.ino, HostIno("g"));

  fuse_flush_in flush{};
  flush.fh = fh;
  EXPECT_EQ(harness_.Call(&fuse_op::Flush, FUSE_FLUSH, f, Arg(flush)).error, 0);
  fuse_release_in release{};
  release.fh = fh;
  EXPECT_EQ(harness_.Call(&fuse_op::Release, FUSE_RELEASE, f, Arg(release)).error, 0);
  release.fh = opened.fh;
  EXPECT_EQ(harness_.Call(&fuse_op::Release, FUSE_RELEASE, entry.nodeid, Arg(release)).error, 0);
  EXPECT_EQ(Contents(harness_.dir().Path("f")), "01ab456789");
  EXPECT_EQ(Contents(harness_.dir().Path("g")), "new");
}

// A directory open before is opened again for its next READDIR.
TEST_F(BrokerRestartTest, DirectoryHandlesAreReopened) {
  ASSERT_EQ(mkdir(harness_.dir().Path("d").c_str(), 0755), 0);
  WriteHostFile(harness_.dir().Path("d/one"), "1");
  const uint64_t d = Lookup(FUSE_ROOT_ID, "d");
  fuse_open_in open{};
  FuseReply opened = harness_.Call(&fuse_op::Opendir, FUSE_OPENDIR, d, Arg(open));
  ASSERT_EQ(opened.error, 0);
  const uint64_t fh = opened.As<fuse_open_out>().fh;

  harness_.RestartBroker();
  WriteHostFile(harness_.dir().Path("d/two"), "2");
  FuseReply listed =
      harness_.Call(&fuse_op::Readdir, FUSE_READDIRPLUS, d, Arg(ReadIn(fh, 0, 4096)));
  ASSERT_EQ(listed.error, 0);
  std::set<std::string> names;
  std::set<uint64_t> nodes;
  for (size_t at = 0; at + sizeof(fuse_direntplus) <= listed.payload.size();) {
    fuse_direntplus entry;
    memcpy(&entry, listed.payload.data() + at, sizeof(entry));
    names.insert(listed.payload.substr(at + sizeof(entry), entry.dirent.namelen));
    if (entry.entry_out.nodeid != 0) nodes.insert(entry.entry_out.nodeid);
    at += FUSE_DIRENTPLUS_SIZE(&entry);
  }
  EXPECT_TRUE(names.count("one") && names.count("two")) << listed.payload;
  EXPECT_FALSE(nodes.count(d)) << "an entry took the directory's id";
  // READDIRPLUS counted as lookups: those nodes are found by name later.
  fuse_release_in release{};
  release.fh = fh;
  EXPECT_EQ(harness_.Call(&fuse_op::Releasedir, FUSE_RELEASEDIR, d, Arg(release)).error, 0);
}

}  // namespace
}  // namespace virtiofsd
