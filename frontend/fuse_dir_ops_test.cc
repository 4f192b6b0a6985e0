#include "frontend/fuse_dir_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/stat.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "frontend/testing/session_harness.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using testing::Arg;
using testing::FuseReply;
using testing::ReadIn;
using testing::RequestSpec;
using testing::SessionHarness;

struct Dirent {
  std::string name;
  uint64_t off = 0;
  uint64_t node = 0;  // READDIRPLUS only.
};

// The entries of a READDIR(PLUS) reply payload.
std::vector<Dirent> Parse(const std::string& payload, bool plus) {
  std::vector<Dirent> out;
  size_t pos = 0;
  while (pos < payload.size()) {
    Dirent entry;
    if (plus) {
      fuse_entry_out e;
      memcpy(&e, payload.data() + pos, sizeof(e));
      entry.node = e.nodeid;
      pos += sizeof(e);
    }
    fuse_dirent d;
    memcpy(&d, payload.data() + pos, FUSE_NAME_OFFSET);
    entry.name.assign(payload.data() + pos + FUSE_NAME_OFFSET, d.namelen);
    entry.off = d.off;
    pos += FUSE_DIRENT_SIZE(&d);
    out.push_back(entry);
  }
  EXPECT_EQ(pos, payload.size());
  return out;
}

class FuseDirOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 20; ++i) {
      const std::string name = "entry-with-a-longish-name-" + std::to_string(i);
      ASSERT_EQ(mkdir(harness_.dir().Path(name).c_str(), 0755), 0);
    }
    FuseReply open = harness_.Call(&fuse_op::Opendir, FUSE_OPENDIR, 1, Arg(fuse_open_in{}));
    ASSERT_EQ(open.error, 0);
    handle_ = open.As<fuse_open_out>().fh;
  }
  // Every entry, read `size` bytes at a time from offset 0.
  std::vector<Dirent> ReadAll(bool plus, uint32_t size) {
    std::vector<Dirent> all;
    uint64_t offset = 0;
    while (true) {
      FuseReply reply = harness_.Call(&fuse_op::Readdir, plus ? FUSE_READDIRPLUS : FUSE_READDIR, 1,
                                      Arg(ReadIn(handle_, offset, size)), 64 << 10);
      EXPECT_EQ(reply.error, 0);
      EXPECT_LE(reply.payload.size(), size);
      std::vector<Dirent> part = Parse(reply.payload, plus);
      if (part.empty()) return all;
      offset = part.back().off;
      all.insert(all.end(), part.begin(), part.end());
    }
  }

  SessionHarness harness_;
  uint64_t handle_ = 0;
};

TEST_F(FuseDirOpsTest, SmallBuffersLoseAndRepeatNoEntry) {
  for (bool plus : {false, true}) {
    std::vector<Dirent> all = ReadAll(plus, 200);
    std::multiset<std::string> names;
    for (const Dirent& d : all) names.insert(d.name);
    EXPECT_EQ(names.size(), 22u) << plus;
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 22u) << plus;
    EXPECT_EQ(names.count("."), 1u);
  }
}

// The broker takes one lookup for each READDIRPLUS entry it returns and none for
// entries that did not fit: forgetting each returned node once ends it at the
// broker. (A broker that took lookups for entries it dropped would keep them.)
TEST_F(FuseDirOpsTest, ReaddirplusTakesOneLookupPerEntryTheGuestSees) {
  std::vector<Dirent> all = ReadAll(/*plus=*/true, 300);
  int nodes = 0;
  for (const Dirent& d : all) {
    if (d.name == "." || d.name == "..") {
      EXPECT_EQ(d.node, 0u);
      continue;
    }
    ASSERT_NE(d.node, 0u) << d.name;
    ++nodes;
    harness_.broker().Forget(d.node, 1);
  }
  EXPECT_EQ(nodes, 20);
  for (const Dirent& d : all) {
    if (d.node == 0) continue;
    EXPECT_NE(harness_.broker().Getattr(d.node).error, 0) << d.name;
  }
}

TEST_F(FuseDirOpsTest, ReleasedirFsyncdirAndShortArguments) {
  fuse_fsync_in fsync{};
  fsync.fh = handle_;
  EXPECT_EQ(harness_.Call(&fuse_op::Fsyncdir, FUSE_FSYNCDIR, 1, Arg(fsync)).error, 0);
  EXPECT_EQ(harness_.Call(&fuse_op::Readdir, FUSE_READDIR, 1, "short").error, EINVAL);
  fuse_release_in release{};
  release.fh = handle_;
  EXPECT_EQ(harness_.Call(&fuse_op::Releasedir, FUSE_RELEASEDIR, 1, Arg(release)).error, 0);
  EXPECT_EQ(harness_.Call(&fuse_op::Readdir, FUSE_READDIR, 1, Arg(ReadIn(handle_, 0, 4096))).error,
            EBADF);
  EXPECT_EQ(harness_.Call(&fuse_op::Opendir, FUSE_OPENDIR, 1, "").error, EINVAL);
}

// A broker that answers READDIRPLUS with more than fits (a broken one): the
// frontend keeps the entries before the first that does not fit, drops that one
// and all after it (a later one that fits would hide it from the guest for
// good), sends the broker nothing back, and says what layout it asked for.
TEST(FuseDirOpsBrokenBrokerTest, EntriesFromTheFirstThatDoesNotFitAreDropped) {
  auto pair = FrameSocket::CreatePair();
  ASSERT_TRUE(pair.ok());
  FrameSocket broker_end = std::move(pair->second);
  BrokerClient client{std::move(pair->first)};
  FuseContext context(client, FuseOptions{}, nullptr);
  proto::ReaddirRequest seen;
  std::thread broker([&] {
    Frame frame;
    ASSERT_TRUE(broker_end.Receive(frame).ok());
    absl::StatusOr<proto::Request> request = DecodeRequest(frame);
    ASSERT_TRUE(request.ok());
    seen = request->readdir();
    proto::Reply reply;
    reply.set_id(request->id());
    // As direntplus: 160, 352, 160, 160 bytes.
    for (const std::string& name :
         std::vector<std::string>{"name0", std::string(200, 'L'), "name2", "name3"}) {
      proto::DirEntry* entry = reply.mutable_readdir()->add_entries();
      const int i = reply.readdir().entries_size();
      entry->set_ino(10 + i);
      entry->set_offset(i);
      entry->set_name(name);
      entry->mutable_entry()->set_node(100 + i);
    }
    ASSERT_TRUE(SendReply(broker_end, reply).ok());
  });
  SessionHarness harness;  // For the chain in guest memory.
  RequestSpec spec{.opcode = FUSE_READDIRPLUS, .args = Arg(ReadIn(7, 0, 400))};
  int ticket;
  fuse_op::Readdir(context, FuseCall::Decode(harness.MakeChain(spec, ticket)));
  FuseReply reply = harness.Wait(ticket);
  broker.join();
  EXPECT_EQ(seen.max_bytes(), 400u);
  EXPECT_TRUE(seen.plus());
  EXPECT_EQ(seen.entry_bytes(), sizeof(fuse_direntplus));
  EXPECT_EQ(seen.name_alignment(), 8u);
  ASSERT_EQ(reply.error, 0);
  std::vector<Dirent> entries = Parse(reply.payload, true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "name0");
  EXPECT_EQ(entries[0].off, 1u);
  // Nothing came back to the broker (no FORGET for the dropped entries).
  client.Shutdown("test over");
  Frame frame;
  EXPECT_FALSE(broker_end.Receive(frame).ok());
}

TEST(FuseDirOpsBrokenBrokerTest, ReaddirAsksForTheDirentLayout) {
  auto pair = FrameSocket::CreatePair();
  ASSERT_TRUE(pair.ok());
  FrameSocket broker_end = std::move(pair->second);
  BrokerClient client{std::move(pair->first)};
  FuseContext context(client, FuseOptions{}, nullptr);
  SessionHarness harness;
  RequestSpec spec{.opcode = FUSE_READDIR, .args = Arg(ReadIn(7, 0, 1 << 30)), .reply_room = 1000};
  int ticket;
  fuse_op::Readdir(context, FuseCall::Decode(harness.MakeChain(spec, ticket)));
  Frame frame;
  ASSERT_TRUE(broker_end.Receive(frame).ok());
  absl::StatusOr<proto::Request> request = DecodeRequest(frame);
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(request->readdir().plus());
  EXPECT_EQ(request->readdir().entry_bytes(), sizeof(fuse_dirent));
  EXPECT_EQ(request->readdir().name_alignment(), 8u);
  // Bounded by the chain's room, less the reply header.
  EXPECT_EQ(request->readdir().max_bytes(), 1000 - sizeof(fuse_out_header));
  proto::Reply reply;
  reply.set_id(request->id());
  reply.mutable_readdir();
  ASSERT_TRUE(SendReply(broker_end, reply).ok());
  FuseReply answer = harness.Wait(ticket);
  EXPECT_EQ(answer.error, 0);
  EXPECT_EQ(answer.payload, "");
}

}  // namespace
}  // namespace virtiofsd
