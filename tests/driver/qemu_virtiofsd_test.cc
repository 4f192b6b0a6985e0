// Runs the test driver against QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd), the
// peer our daemon must match: negotiation both ways (ADD_MEM_REG and
// SET_MEM_TABLE), common operations checked against the host directory, 64
// requests in flight, indirect chains, and hostile chains.

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/time/clock.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/driver/daemon.h"
#include "tests/driver/fuse_client.h"
#include "tests/driver/vhost_user_fs_driver.h"

namespace virtiofsd::driver {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::virtiofsd::testing::HasErrno;
using ::virtiofsd::testing::StatusIs;

constexpr char kQemuVirtiofsd[] = "/usr/lib/qemu/virtiofsd";

std::string ReadHostFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Pattern(size_t size, char seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed + i * 7 + i / 4096);
  return data;
}

class QemuVirtiofsdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kQemuVirtiofsd, X_OK) != 0) GTEST_SKIP() << kQemuVirtiofsd << " not installed";
    // Not TEST_TMPDIR: a UNIX socket path must fit in 108 bytes.
    char dir[] = "/tmp/vfsd-driver-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    shared_ = dir_ + "/shared";
    ASSERT_EQ(mkdir(shared_.c_str(), 0755), 0);
    ASSERT_OK_AND_ASSIGN(daemon_,
                         Daemon::Start({.argv = {kQemuVirtiofsd, "--socket-path={socket}", "-o",
                                                 "source={dir}", "-o", "cache=auto", "-o", "xattr"},
                                        .socket_path = dir_ + "/vhost.sock",
                                        .shared_dir = shared_,
                                        .log_path = dir_ + "/daemon.log"}));
  }

  void TearDown() override {
    fuse_.reset();
    driver_.reset();
    if (daemon_ != nullptr) {
      daemon_->Stop().IgnoreError();
      if (HasFailure()) ADD_FAILURE() << "daemon log:\n" << daemon_->Log();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Connects and sends INIT.
  void Connect(const DriverOptions& options = {}) {
    ASSERT_OK_AND_ASSIGN(driver_, VhostUserFsDriver::Connect(dir_ + "/vhost.sock", options));
    fuse_ = std::make_unique<FuseClient>(driver_.get());
    ASSERT_OK_AND_ASSIGN(fuse_init_out init, fuse_->Init());
    EXPECT_EQ(init.major, 7u);
  }

  std::string dir_, shared_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<VhostUserFsDriver> driver_;
  std::unique_ptr<FuseClient> fuse_;
};

TEST_F(QemuVirtiofsdTest, NegotiatesLikeQemu) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  const Negotiated& n = driver_->negotiated();
  EXPECT_TRUE(n.add_mem_reg);
  EXPECT_EQ(n.queue_num, 2u);
  EXPECT_GE(n.max_mem_slots, 2u);
  // What QEMU 7.2 acks to this daemon (notes/guest.md).
  EXPECT_EQ(n.features, 0x170000000u);
  EXPECT_EQ(n.protocol_features, 0x8c2bu);
  EXPECT_GE(fuse_->init_out().minor, 31u);
  EXPECT_GT(fuse_->init_out().max_write, 0u);
}

TEST_F(QemuVirtiofsdTest, SetMemTableOneRegionNoEventIdx) {
  DriverOptions options;
  options.mem_table = MemTableMessage::kSetMemTable;
  options.region_layout = RegionLayout::kOneRegion;
  options.event_idx = false;
  options.ack_every_message = true;
  options.queue_size = 128;
  ASSERT_NO_FATAL_FAILURE(Connect(options));
  EXPECT_FALSE(driver_->negotiated().add_mem_reg);
  ASSERT_OK_AND_ASSIGN(fuse_attr_out root, fuse_->Getattr(FUSE_ROOT_ID));
  EXPECT_TRUE(S_ISDIR(root.attr.mode));
}

TEST_F(QemuVirtiofsdTest, LookupAndGetattrMatchTheHost) {
  std::ofstream(shared_ + "/file") << "twelve bytes";
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "file"));
  struct stat st;
  ASSERT_EQ(stat((shared_ + "/file").c_str(), &st), 0);
  EXPECT_EQ(entry.attr.ino, st.st_ino);
  EXPECT_EQ(entry.attr.size, 12u);
  ASSERT_OK_AND_ASSIGN(fuse_attr_out attr, fuse_->Getattr(entry.nodeid));
  EXPECT_EQ(attr.attr.size, 12u);
  EXPECT_TRUE(S_ISREG(attr.attr.mode));
  EXPECT_THAT(fuse_->Lookup(FUSE_ROOT_ID, "missing"), HasErrno(ENOENT));
  EXPECT_OK(fuse_->Forget(entry.nodeid, 1));
}

TEST_F(QemuVirtiofsdTest, CreateWriteReadBack) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(CreateReply created,
                       fuse_->Create(FUSE_ROOT_ID, "data", O_RDWR | O_CREAT, 0644));
  const std::string data = Pattern(300000, 'a');
  ASSERT_OK_AND_ASSIGN(uint32_t written,
                       fuse_->Write(created.entry.nodeid, created.open.fh, 0, data));
  EXPECT_EQ(written, data.size());
  ASSERT_OK_AND_ASSIGN(std::string back,
                       fuse_->Read(created.entry.nodeid, created.open.fh, 0, 1 << 20));
  EXPECT_EQ(back, data);
  ASSERT_OK_AND_ASSIGN(std::string tail,
                       fuse_->Read(created.entry.nodeid, created.open.fh, 299990, 100));
  EXPECT_EQ(tail, data.substr(299990));
  EXPECT_OK(fuse_->Flush(created.entry.nodeid, created.open.fh));
  EXPECT_OK(fuse_->Fsync(created.entry.nodeid, created.open.fh));
  EXPECT_OK(fuse_->Release(created.entry.nodeid, created.open.fh));
  EXPECT_EQ(ReadHostFile(shared_ + "/data"), data);
}

TEST_F(QemuVirtiofsdTest, MkdirReaddirRenameUnlinkRmdir) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out dir, fuse_->Mkdir(FUSE_ROOT_ID, "dir", 0755));
  EXPECT_TRUE(S_ISDIR(dir.attr.mode));
  ASSERT_OK(fuse_->Mknod(dir.nodeid, "a", S_IFREG | 0600).status());
  ASSERT_OK(fuse_->Symlink(dir.nodeid, "link", "a").status());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out link, fuse_->Lookup(dir.nodeid, "link"));
  ASSERT_OK_AND_ASSIGN(std::string target, fuse_->Readlink(link.nodeid));
  EXPECT_EQ(target, "a");

  ASSERT_OK_AND_ASSIGN(fuse_open_out handle, fuse_->Opendir(dir.nodeid));
  ASSERT_OK_AND_ASSIGN(std::vector<DirEntry> entries, fuse_->Readdir(dir.nodeid, handle.fh, 0));
  std::set<std::string> names;
  for (const DirEntry& e : entries) names.insert(e.name);
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "a", "link"}));
  ASSERT_OK_AND_ASSIGN(entries, fuse_->Readdirplus(dir.nodeid, handle.fh, 0));
  EXPECT_THAT(entries, Contains(Field(&DirEntry::name, "a")));
  EXPECT_OK(fuse_->Releasedir(dir.nodeid, handle.fh));

  EXPECT_OK(fuse_->Rename(dir.nodeid, "a", FUSE_ROOT_ID, "b"));
  EXPECT_TRUE(std::filesystem::exists(shared_ + "/b"));
  EXPECT_FALSE(std::filesystem::exists(shared_ + "/dir/a"));
  EXPECT_THAT(fuse_->Rmdir(FUSE_ROOT_ID, "dir"), HasErrno(ENOTEMPTY));
  EXPECT_OK(fuse_->Unlink(dir.nodeid, "link"));
  EXPECT_OK(fuse_->Rmdir(FUSE_ROOT_ID, "dir"));
  EXPECT_OK(fuse_->Unlink(FUSE_ROOT_ID, "b"));
  EXPECT_TRUE(std::filesystem::is_empty(shared_));
}

TEST_F(QemuVirtiofsdTest, XattrStatfsAccessLseek) {
  std::ofstream(shared_ + "/f") << "x";
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out f, fuse_->Lookup(FUSE_ROOT_ID, "f"));
  ASSERT_OK(fuse_->Setxattr(f.nodeid, "user.k", "value"));
  ASSERT_OK_AND_ASSIGN(uint32_t size, fuse_->GetxattrSize(f.nodeid, "user.k"));
  EXPECT_EQ(size, 5u);
  ASSERT_OK_AND_ASSIGN(std::string value, fuse_->Getxattr(f.nodeid, "user.k", 64));
  EXPECT_EQ(value, "value");
  ASSERT_OK_AND_ASSIGN(std::string list, fuse_->Listxattr(f.nodeid, 256));
  EXPECT_NE(list.find(std::string("user.k\0", 7)), std::string::npos);
  EXPECT_OK(fuse_->Removexattr(f.nodeid, "user.k"));
  EXPECT_THAT(fuse_->GetxattrSize(f.nodeid, "user.k"), HasErrno(ENODATA));

  ASSERT_OK_AND_ASSIGN(fuse_statfs_out statfs, fuse_->Statfs());
  EXPECT_GT(statfs.st.blocks, 0u);
  // passthrough_ll has no access handler (the guest checks permissions itself).
  EXPECT_THAT(fuse_->Access(f.nodeid, R_OK), HasErrno(ENOSYS));

  ASSERT_OK_AND_ASSIGN(fuse_open_out open, fuse_->Open(f.nodeid, O_RDWR));
  EXPECT_OK(fuse_->Fallocate(f.nodeid, open.fh, 0, 8192));
  ASSERT_OK_AND_ASSIGN(uint64_t end, fuse_->Lseek(f.nodeid, open.fh, 0, SEEK_END));
  EXPECT_EQ(end, 8192u);
  EXPECT_OK(fuse_->Release(f.nodeid, open.fh));
}

TEST_F(QemuVirtiofsdTest, LinkSetattrRename2CopyFileRangeBatchForgetDestroy) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(CreateReply src, fuse_->Create(FUSE_ROOT_ID, "src", O_RDWR | O_CREAT, 0600));
  ASSERT_OK(fuse_->Write(src.entry.nodeid, src.open.fh, 0, "0123456789").status());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out link, fuse_->Link(src.entry.nodeid, FUSE_ROOT_ID, "hard"));
  EXPECT_EQ(link.attr.ino, src.entry.attr.ino);
  EXPECT_EQ(link.attr.nlink, 2u);

  fuse_setattr_in setattr{};
  setattr.valid = FATTR_MODE | FATTR_SIZE;
  setattr.mode = 0640;
  setattr.size = 8;
  ASSERT_OK_AND_ASSIGN(fuse_attr_out attr, fuse_->Setattr(src.entry.nodeid, setattr));
  EXPECT_EQ(attr.attr.mode & 07777, 0640u);
  EXPECT_EQ(attr.attr.size, 8u);

  ASSERT_OK_AND_ASSIGN(CreateReply dst, fuse_->Create(FUSE_ROOT_ID, "dst", O_RDWR | O_CREAT, 0600));
  ASSERT_OK_AND_ASSIGN(uint32_t copied, fuse_->CopyFileRange(src.entry.nodeid, src.open.fh, 2,
                                                             dst.entry.nodeid, dst.open.fh, 0, 4));
  EXPECT_EQ(copied, 4u);
  EXPECT_EQ(ReadHostFile(shared_ + "/dst"), "2345");

  EXPECT_THAT(fuse_->Rename2(FUSE_ROOT_ID, "src", FUSE_ROOT_ID, "dst", RENAME_NOREPLACE),
              HasErrno(EEXIST));
  EXPECT_OK(fuse_->Rename2(FUSE_ROOT_ID, "src", FUSE_ROOT_ID, "dst", RENAME_EXCHANGE));
  EXPECT_EQ(ReadHostFile(shared_ + "/src"), "2345");

  EXPECT_OK(fuse_->Release(src.entry.nodeid, src.open.fh));
  EXPECT_OK(fuse_->Release(dst.entry.nodeid, dst.open.fh));
  EXPECT_OK(fuse_->BatchForget({{src.entry.nodeid, 2}, {dst.entry.nodeid, 1}}));
  EXPECT_OK(fuse_->Destroy());
}

TEST_F(QemuVirtiofsdTest, MoreQueuesThanOfferedAreRefused) {
  DriverOptions options;
  options.request_queues = 2;
  EXPECT_THAT(VhostUserFsDriver::Connect(dir_ + "/vhost.sock", options),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(QemuVirtiofsdTest, SixtyFourRequestsInFlight) {
  for (int i = 0; i < 64; ++i) std::ofstream(shared_ + "/f" + std::to_string(i)) << i;
  ASSERT_NO_FATAL_FAILURE(Connect());
  std::map<uint64_t, int> started;  // unique -> file number
  for (int i = 0; i < 64; ++i) {
    const std::string name = "f" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(uint64_t unique, fuse_->Start(FUSE_LOOKUP, FUSE_ROOT_ID,
                                                       {std::string(name.c_str(), name.size() + 1)},
                                                       sizeof(fuse_entry_out)));
    started[unique] = i;
  }
  EXPECT_EQ(driver_->in_flight(), 64);
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK_AND_ASSIGN(auto done, fuse_->AwaitAny());
    ASSERT_EQ(started.count(done.first), 1u);
    ASSERT_EQ(done.second.error(), 0);
    fuse_entry_out entry;
    memcpy(&entry, done.second.body.data(), sizeof(entry));
    EXPECT_EQ(entry.attr.size, std::to_string(started[done.first]).size());
    started.erase(done.first);
  }
  EXPECT_EQ(driver_->in_flight(), 0);
  // Every request came back through the request queue.
  ASSERT_OK_AND_ASSIGN(std::vector<uint16_t> bases, driver_->StopQueues());
  EXPECT_EQ(bases[1], 1 + 64);  // INIT + the lookups
}

TEST_F(QemuVirtiofsdTest, IndirectPageSizedChains) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  fuse_->set_options({.queue = 1, .post = {.indirect = true, .max_segment = 4096}});
  ASSERT_OK_AND_ASSIGN(CreateReply created,
                       fuse_->Create(FUSE_ROOT_ID, "big", O_RDWR | O_CREAT, 0644));
  const std::string data = Pattern(1 << 20, 'z');
  ASSERT_OK_AND_ASSIGN(uint32_t written,
                       fuse_->Write(created.entry.nodeid, created.open.fh, 0, data));
  EXPECT_EQ(written, data.size());
  ASSERT_OK_AND_ASSIGN(std::string back,
                       fuse_->Read(created.entry.nodeid, created.open.fh, 0, 1 << 20));
  EXPECT_EQ(back == data, true);
  EXPECT_EQ(ReadHostFile(shared_ + "/big") == data, true);
}

TEST_F(QemuVirtiofsdTest, UnknownOpcodeGetsEnosys) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(FuseReply reply, fuse_->Call(999, FUSE_ROOT_ID, {}, 64));
  EXPECT_EQ(reply.error(), ENOSYS);
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

// QEMU's C daemon treats a looping chain as fatal (libvhost-user vu_panic ->
// exit): the driver must report the hang-up at once instead of waiting out its
// timeout. Our daemon is expected to do better (drop the chain, stay up).
TEST_F(QemuVirtiofsdTest, LoopedChainEndsInHangUpNotHang) {
  ASSERT_NO_FATAL_FAILURE(Connect());
  ASSERT_OK_AND_ASSIGN(uint64_t buffer, driver_->memory().allocator().Allocate(4096, 8));
  const RawDescriptor loop[] = {
      {buffer, 40, VRING_DESC_F_NEXT, 1},
      {buffer + 64, 64, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0},
  };
  ASSERT_OK_AND_ASSIGN(uint64_t ticket, driver_->PostRaw(1, loop));
  const absl::Time start = absl::Now();
  EXPECT_THAT(driver_->Wait(ticket), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, driver_->options().timeout);
}

}  // namespace
}  // namespace virtiofsd::driver
