// Integration tests of the real product: the `virtiofsd` launcher starts the real
// broker and frontend executables (confined, seccomp on), and the test driver
// plays QEMU and the guest against the socket. Every operation's result is checked
// against the host's view of the shared directory.

#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "broker/testing/test_broker.h"
#include "common/status_matchers.h"
#include "common/testing/full_fd_table.h"
#include "frontend/fuse_session.h"
#include "frontend/vhost_user_device.h"
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
using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

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

// /proc/PID/status field `name` ("Uid", "CapEff", ...), or "" if absent.
std::string StatusField(pid_t pid, const std::string& name) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "";
}

// The children of `parent` whose executable's name is `exe_name`.
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& exe_name) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid_text = entry.path().filename();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(pid_text);
    if (StatusField(pid, "PPid") != std::to_string(parent)) continue;
    std::error_code error;
    auto exe = std::filesystem::read_symlink(entry.path() / "exe", error);
    if (!error && exe.filename() == exe_name) found.push_back(pid);
  }
  return found;
}

// How the daemon under test runs.
enum class Mode {
  // Frontend and broker code in this process (a broker thread on a socket pair,
  // the vhost-user device on a thread): fast, and sanitizers see both halves.
  kInProcess,
  // The real `virtiofsd` launcher with the real executables, confined, seccomp on.
  kExecutables,
};

FsConfig WithXattr() {
  FsConfig config;
  config.xattr = true;
  return config;
}

// The frontend's device and session, served on a thread for one connection.
class InProcessDaemon {
 public:
  InProcessDaemon(const std::string& shared_dir, const std::string& socket_path)
      : broker_(shared_dir, WithXattr()),
        session_(broker_.client(), FuseOptions{}),
        listener_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_.get(), 1), 0);
    thread_ = std::thread([this] {
      UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection.valid()) return;
      VhostUserDevice device(std::move(connection), {}, session_);
      EXPECT_OK(device.Serve());
    });
  }
  ~InProcessDaemon() {
    shutdown(listener_.get(), SHUT_RDWR);  // In case nobody connected.
    thread_.join();
  }

 private:
  virtiofsd::testing::TestBroker broker_;
  FuseSession session_;
  UniqueFd listener_;
  std::thread thread_;
};

class VirtiofsdTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    // Not TEST_TMPDIR: a UNIX socket path must fit in 108 bytes.
    char dir[] = "/tmp/vfsd-integration-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    shared_ = dir_ + "/shared";
    ASSERT_EQ(mkdir(shared_.c_str(), 0755), 0);
    const std::string socket_path = dir_ + "/vhost.sock";
    if (GetParam() == Mode::kInProcess) {
      in_process_ = std::make_unique<InProcessDaemon>(shared_, socket_path);
    } else {
      ASSERT_OK_AND_ASSIGN(
          daemon_, Daemon::Start({.argv = {"launcher/virtiofsd", "--socket-path={socket}",
                                           "--shared-dir={dir}", "--xattr", "--log-level=debug"},
                                  .socket_path = socket_path,
                                  .shared_dir = shared_,
                                  .log_path = dir_ + "/daemon.log"}));
    }
    ASSERT_OK_AND_ASSIGN(driver_, VhostUserFsDriver::Connect(socket_path));
    fuse_ = std::make_unique<FuseClient>(driver_.get());
    ASSERT_OK(fuse_->Init().status());
  }

  void TearDown() override {
    fuse_.reset();
    driver_.reset();  // QEMU goes away: the daemon exits by itself.
    in_process_.reset();
    if (daemon_ != nullptr) {
      absl::StatusOr<int> status = daemon_->Stop();
      if (HasFailure()) std::cerr << "daemon log:\n" << daemon_->Log();
      daemon_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  std::string Host(const std::string& name) { return shared_ + "/" + name; }

  std::string dir_, shared_;
  std::unique_ptr<InProcessDaemon> in_process_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<VhostUserFsDriver> driver_;
  std::unique_ptr<FuseClient> fuse_;
};

TEST_P(VirtiofsdTest, InitNegotiatesConservatively) {
  const fuse_init_out& init = fuse_->init_out();
  EXPECT_EQ(init.major, 7u);
  EXPECT_EQ(init.max_write, 1u << 20);
  EXPECT_EQ(init.max_pages, 256u);
  EXPECT_FALSE(init.flags & FUSE_POSIX_ACL) << "not without --posix-acl";
  EXPECT_FALSE(init.flags & FUSE_WRITEBACK_CACHE) << "not without --writeback";
  EXPECT_TRUE(init.flags & FUSE_DO_READDIRPLUS);
}

TEST_P(VirtiofsdTest, LookupAndGetattrMatchTheHost) {
  { std::ofstream(Host("hello")) << "hello world"; }
  struct stat st;
  ASSERT_EQ(stat(Host("hello").c_str(), &st), 0);
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "hello"));
  EXPECT_EQ(entry.attr.ino, st.st_ino);
  EXPECT_EQ(entry.attr.size, 11u);
  EXPECT_EQ(entry.attr.mode, st.st_mode);
  ASSERT_OK_AND_ASSIGN(fuse_attr_out attr, fuse_->Getattr(entry.nodeid));
  EXPECT_EQ(attr.attr.ino, st.st_ino);
  EXPECT_THAT(fuse_->Lookup(FUSE_ROOT_ID, "missing"), HasErrno(ENOENT));
  EXPECT_THAT(fuse_->Lookup(FUSE_ROOT_ID, ".."), HasErrno(EINVAL));
  EXPECT_OK(fuse_->Forget(entry.nodeid, 1));
}

TEST_P(VirtiofsdTest, CreateWriteReadBackOneMebibyte) {
  ASSERT_OK_AND_ASSIGN(CreateReply created,
                       fuse_->Create(FUSE_ROOT_ID, "data", O_RDWR | O_CREAT, 0100644));
  const std::string data = Pattern(1 << 20, 'a');
  ASSERT_OK_AND_ASSIGN(uint32_t written,
                       fuse_->Write(created.entry.nodeid, created.open.fh, 0, data));
  EXPECT_EQ(written, data.size());
  EXPECT_EQ(ReadHostFile(Host("data")), data);
  ASSERT_OK_AND_ASSIGN(std::string read,
                       fuse_->Read(created.entry.nodeid, created.open.fh, 0, 1 << 20));
  EXPECT_EQ(read, data);
  ASSERT_OK_AND_ASSIGN(std::string tail,
                       fuse_->Read(created.entry.nodeid, created.open.fh, (1 << 20) - 10, 100));
  EXPECT_EQ(tail, data.substr((1 << 20) - 10));  // A short read at the end of the file.
  EXPECT_OK(fuse_->Flush(created.entry.nodeid, created.open.fh));
  EXPECT_OK(fuse_->Fsync(created.entry.nodeid, created.open.fh));
  EXPECT_OK(fuse_->Release(created.entry.nodeid, created.open.fh));
  EXPECT_THAT(fuse_->Read(created.entry.nodeid, created.open.fh, 0, 10), HasErrno(EBADF));
}

TEST_P(VirtiofsdTest, AppendGoesToTheEnd) {
  { std::ofstream(Host("log")) << "first\n"; }
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "log"));
  ASSERT_OK_AND_ASSIGN(fuse_open_out open, fuse_->Open(entry.nodeid, O_WRONLY | O_APPEND));
  ASSERT_OK(fuse_->Write(entry.nodeid, open.fh, 0, "second\n").status());
  EXPECT_EQ(ReadHostFile(Host("log")), "first\nsecond\n");
  EXPECT_OK(fuse_->Release(entry.nodeid, open.fh));
}

TEST_P(VirtiofsdTest, DirectoriesRenameLinkSymlinkUnlink) {
  ASSERT_OK_AND_ASSIGN(fuse_entry_out dir, fuse_->Mkdir(FUSE_ROOT_ID, "dir", 0755));
  struct stat st;
  ASSERT_EQ(stat(Host("dir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_OK_AND_ASSIGN(CreateReply file,
                       fuse_->Create(dir.nodeid, "a", O_WRONLY | O_CREAT, 0100600));
  EXPECT_OK(fuse_->Release(file.entry.nodeid, file.open.fh));
  EXPECT_OK(fuse_->Rename(dir.nodeid, "a", FUSE_ROOT_ID, "b"));
  EXPECT_EQ(access(Host("b").c_str(), F_OK), 0);
  EXPECT_NE(access(Host("dir/a").c_str(), F_OK), 0);
  ASSERT_OK_AND_ASSIGN(fuse_entry_out link, fuse_->Link(file.entry.nodeid, dir.nodeid, "hard"));
  EXPECT_EQ(link.attr.nlink, 2u);
  ASSERT_OK_AND_ASSIGN(fuse_entry_out symlink, fuse_->Symlink(FUSE_ROOT_ID, "sym", "b"));
  ASSERT_OK_AND_ASSIGN(std::string target, fuse_->Readlink(symlink.nodeid));
  EXPECT_EQ(target, "b");
  char host_target[16] = {};
  EXPECT_EQ(readlink(Host("sym").c_str(), host_target, sizeof(host_target)), 1);

  ASSERT_OK_AND_ASSIGN(fuse_open_out opened, fuse_->Opendir(FUSE_ROOT_ID));
  ASSERT_OK_AND_ASSIGN(std::vector<DirEntry> entries,
                       fuse_->Readdirplus(FUSE_ROOT_ID, opened.fh, 0));
  EXPECT_THAT(entries, Contains(Field(&DirEntry::name, "dir")));
  EXPECT_THAT(entries, Contains(Field(&DirEntry::name, "b")));
  EXPECT_THAT(entries, Contains(Field(&DirEntry::name, "sym")));
  EXPECT_OK(fuse_->Releasedir(FUSE_ROOT_ID, opened.fh));

  EXPECT_THAT(fuse_->Rmdir(FUSE_ROOT_ID, "dir"), HasErrno(ENOTEMPTY));
  EXPECT_OK(fuse_->Unlink(dir.nodeid, "hard"));
  EXPECT_OK(fuse_->Rmdir(FUSE_ROOT_ID, "dir"));
  EXPECT_OK(fuse_->Unlink(FUSE_ROOT_ID, "sym"));
  EXPECT_NE(access(Host("dir").c_str(), F_OK), 0);
}

TEST_P(VirtiofsdTest, SetattrTruncatesAndChmods) {
  { std::ofstream(Host("f")) << "0123456789"; }
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "f"));
  fuse_setattr_in in{};
  in.valid = FATTR_SIZE | FATTR_MODE;
  in.size = 4;
  in.mode = 0100600;
  ASSERT_OK_AND_ASSIGN(fuse_attr_out attr, fuse_->Setattr(entry.nodeid, in));
  EXPECT_EQ(attr.attr.size, 4u);
  struct stat st;
  ASSERT_EQ(stat(Host("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_P(VirtiofsdTest, XattrsRoundTrip) {
  { std::ofstream(Host("x")) << "x"; }
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "x"));
  ASSERT_OK(fuse_->Setxattr(entry.nodeid, "user.color", "blue"));
  char value[16] = {};
  EXPECT_EQ(getxattr(Host("x").c_str(), "user.color", value, sizeof(value)), 4);
  EXPECT_STREQ(value, "blue");
  ASSERT_OK_AND_ASSIGN(uint32_t size, fuse_->GetxattrSize(entry.nodeid, "user.color"));
  EXPECT_EQ(size, 4u);
  ASSERT_OK_AND_ASSIGN(std::string got, fuse_->Getxattr(entry.nodeid, "user.color", 16));
  EXPECT_EQ(got, "blue");
  ASSERT_OK_AND_ASSIGN(std::string names, fuse_->Listxattr(entry.nodeid, 256));
  EXPECT_NE(names.find("user.color"), std::string::npos);
  EXPECT_OK(fuse_->Removexattr(entry.nodeid, "user.color"));
  EXPECT_THAT(fuse_->GetxattrSize(entry.nodeid, "user.color"), HasErrno(ENODATA));
}

TEST_P(VirtiofsdTest, StatfsReportsTheHostFilesystem) {
  ASSERT_OK_AND_ASSIGN(fuse_statfs_out out, fuse_->Statfs());
  EXPECT_GT(out.st.blocks, 0u);
  EXPECT_GT(out.st.bsize, 0u);
  EXPECT_EQ(out.st.namelen, 255u);
}

TEST_P(VirtiofsdTest, SixtyFourRequestsInFlight) {
  for (int i = 0; i < 64; ++i) std::ofstream(Host(absl::StrCat("f", i))) << i;
  std::vector<uint64_t> uniques;
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK_AND_ASSIGN(uint64_t unique, fuse_->Start(FUSE_LOOKUP, FUSE_ROOT_ID,
                                                       {absl::StrCat("f", i, std::string(1, '\0'))},
                                                       sizeof(fuse_entry_out)));
    uniques.push_back(unique);
  }
  for (int i = 0; i < 64; ++i) {
    ASSERT_OK_AND_ASSIGN(FuseReply reply, fuse_->Await(uniques[i]));
    ASSERT_EQ(reply.error(), 0);
    fuse_entry_out entry;
    memcpy(&entry, reply.body.data(), sizeof(entry));
    struct stat st;
    ASSERT_EQ(stat(Host(absl::StrCat("f", i)).c_str(), &st), 0);
    EXPECT_EQ(entry.attr.ino, st.st_ino);
  }
}

TEST_P(VirtiofsdTest, UnknownOpcodeIsEnosysAndServiceGoesOn) {
  ASSERT_OK_AND_ASSIGN(FuseReply reply,
                       fuse_->Call(FUSE_IOCTL, FUSE_ROOT_ID, {std::string(32, '\0')}, 16));
  EXPECT_EQ(reply.error(), ENOSYS);
  ASSERT_OK_AND_ASSIGN(FuseReply bogus, fuse_->Call(4242, FUSE_ROOT_ID, {}, 16));
  EXPECT_EQ(bogus.error(), ENOSYS);
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

TEST_P(VirtiofsdTest, MalformedFuseRequestsGetErrors) {
  // LOOKUP whose name lacks its NUL, GETATTR with a short argument.
  ASSERT_OK_AND_ASSIGN(FuseReply no_nul, fuse_->Call(FUSE_LOOKUP, FUSE_ROOT_ID, {"abc"}, 128));
  EXPECT_EQ(no_nul.error(), EINVAL);
  ASSERT_OK_AND_ASSIGN(FuseReply short_arg, fuse_->Call(FUSE_GETATTR, FUSE_ROOT_ID, {"x"}, 104));
  EXPECT_EQ(short_arg.error(), EINVAL);
  // A header whose length disagrees with the chain.
  fuse_in_header header{};
  header.len = 4096;
  header.opcode = FUSE_GETATTR;
  header.unique = 1000;
  header.nodeid = FUSE_ROOT_ID;
  ASSERT_OK_AND_ASSIGN(uint64_t ticket,
                       driver_->Post(1, {{AsBytes(header), std::string(16, '\0')}, {16, 128}}));
  ASSERT_OK_AND_ASSIGN(DeviceCompletion done, driver_->Wait(ticket));
  fuse_out_header out;
  ASSERT_GE(done.written.size(), sizeof(out));
  memcpy(&out, done.written.data(), sizeof(out));
  EXPECT_EQ(out.error, -EINVAL);
  EXPECT_EQ(out.unique, 1000u);
  // A chain too short for a header is returned empty.
  ASSERT_OK_AND_ASSIGN(uint64_t tiny, driver_->Post(1, {{"xy"}, {64}}));
  ASSERT_OK_AND_ASSIGN(DeviceCompletion tiny_done, driver_->Wait(tiny));
  EXPECT_EQ(tiny_done.used_len, 0u);
  // A reply buffer too small for the reply header: returned without a reply.
  header.len = sizeof(header) + sizeof(fuse_getattr_in);
  ASSERT_OK_AND_ASSIGN(uint64_t cramped,
                       driver_->Post(1, {{AsBytes(header), std::string(16, '\0')}, {8}}));
  ASSERT_OK_AND_ASSIGN(DeviceCompletion cramped_done, driver_->Wait(cramped));
  EXPECT_EQ(cramped_done.used_len, 0u);
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

TEST_P(VirtiofsdTest, MaliciousChainsAreDroppedAndServiceGoesOn) {
  // A descriptor pointing outside guest memory, and a loop.
  std::vector<RawDescriptor> outside = {
      {.addr = 0xfff0000000000, .len = 64, .flags = 0, .next = 0}};
  ASSERT_OK_AND_ASSIGN(uint64_t t1, driver_->PostRaw(1, outside));
  ASSERT_OK_AND_ASSIGN(DeviceCompletion d1, driver_->Wait(t1));
  EXPECT_EQ(d1.used_len, 0u);
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

TEST_P(VirtiofsdTest, MknodAccessFsyncdirAndRenameFlags) {
  ASSERT_OK_AND_ASSIGN(fuse_entry_out fifo, fuse_->Mknod(FUSE_ROOT_ID, "fifo", S_IFIFO | 0644));
  struct stat st;
  ASSERT_EQ(lstat(Host("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_OK(fuse_->Access(fifo.nodeid, R_OK));
  { std::ofstream(Host("other")) << "o"; }
  EXPECT_THAT(fuse_->Rename2(FUSE_ROOT_ID, "fifo", FUSE_ROOT_ID, "other", RENAME_NOREPLACE),
              HasErrno(EEXIST));
  EXPECT_OK(fuse_->Rename2(FUSE_ROOT_ID, "fifo", FUSE_ROOT_ID, "other", RENAME_EXCHANGE));
  ASSERT_EQ(lstat(Host("other").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_OK_AND_ASSIGN(fuse_open_out dir, fuse_->Opendir(FUSE_ROOT_ID));
  EXPECT_OK(fuse_->Fsyncdir(FUSE_ROOT_ID, dir.fh));
  EXPECT_OK(fuse_->Releasedir(FUSE_ROOT_ID, dir.fh));
}

TEST_P(VirtiofsdTest, FallocateLseekAndCopyFileRange) {
  ASSERT_OK_AND_ASSIGN(CreateReply src,
                       fuse_->Create(FUSE_ROOT_ID, "src", O_RDWR | O_CREAT, 0100644));
  EXPECT_OK(fuse_->Fallocate(src.entry.nodeid, src.open.fh, 0, 1 << 20));
  struct stat st;
  ASSERT_EQ(stat(Host("src").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  ASSERT_OK(fuse_->Write(src.entry.nodeid, src.open.fh, 8192, "payload").status());
  ASSERT_OK_AND_ASSIGN(uint64_t end, fuse_->Lseek(src.entry.nodeid, src.open.fh, 0, SEEK_END));
  EXPECT_EQ(end, 1u << 20);
  ASSERT_OK_AND_ASSIGN(CreateReply dst,
                       fuse_->Create(FUSE_ROOT_ID, "dst", O_RDWR | O_CREAT, 0100644));
  ASSERT_OK_AND_ASSIGN(uint32_t copied, fuse_->CopyFileRange(src.entry.nodeid, src.open.fh, 8192,
                                                             dst.entry.nodeid, dst.open.fh, 0, 7));
  EXPECT_EQ(copied, 7u);
  EXPECT_EQ(ReadHostFile(Host("dst")), "payload");
  EXPECT_OK(fuse_->Release(src.entry.nodeid, src.open.fh));
  EXPECT_OK(fuse_->Release(dst.entry.nodeid, dst.open.fh));
}

TEST_P(VirtiofsdTest, BatchForgetAndDestroy) {
  { std::ofstream(Host("a")) << "a"; }
  ASSERT_OK_AND_ASSIGN(fuse_entry_out a, fuse_->Lookup(FUSE_ROOT_ID, "a"));
  ASSERT_OK_AND_ASSIGN(fuse_entry_out again, fuse_->Lookup(FUSE_ROOT_ID, "a"));
  EXPECT_EQ(a.nodeid, again.nodeid);
  EXPECT_OK(fuse_->BatchForget({{a.nodeid, 2}}));
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out held, fuse_->Lookup(FUSE_ROOT_ID, "a"));
  ASSERT_OK_AND_ASSIGN(CreateReply open,
                       fuse_->Create(FUSE_ROOT_ID, "b", O_RDWR | O_CREAT, 0100644));
  EXPECT_OK(fuse_->Destroy());
  // After DESTROY nothing but a new INIT is served, and the broker has let go of the
  // old session's nodes and handles.
  EXPECT_THAT(fuse_->Getattr(FUSE_ROOT_ID), HasErrno(EIO));
  ASSERT_OK(fuse_->Init().status());
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
  EXPECT_THAT(fuse_->Getattr(held.nodeid), HasErrno(ESTALE));
  EXPECT_THAT(fuse_->Flush(open.entry.nodeid, open.open.fh), HasErrno(EBADF));
  // A rebooted guest INITs again without a DESTROY: the same clean start.
  ASSERT_OK_AND_ASSIGN(fuse_entry_out before_reboot, fuse_->Lookup(FUSE_ROOT_ID, "a"));
  ASSERT_OK(fuse_->Init().status());
  EXPECT_THAT(fuse_->Getattr(before_reboot.nodeid), HasErrno(ESTALE));
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

TEST_P(VirtiofsdTest, BadVhostUserMessagesGetFailuresAndServiceGoesOn) {
  // A SET_VRING_NUM with a short payload, one for a queue that does not exist, and a
  // request nobody knows; each must be answered with a failure (REPLY_ACK).
  EXPECT_THAT(driver_->SendAcked(kSetVringNum, "abc", {}, /*need_reply=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const uint32_t bad_queue[2] = {200, 256};
  EXPECT_THAT(driver_->SendAcked(kSetVringNum,
                                 absl::string_view(reinterpret_cast<const char*>(bad_queue), 8), {},
                                 /*need_reply=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(driver_->SendAcked(999, "", {}, /*need_reply=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
}

fuse_lk_in LockIn(uint64_t fh, uint64_t owner, uint32_t type) {
  fuse_lk_in in{};
  in.fh = fh;
  in.owner = owner;
  in.lk.start = 0;
  in.lk.end = 99;
  in.lk.type = type;
  in.lk.pid = 42;
  return in;
}

TEST_P(VirtiofsdTest, PosixLocksReallyLockAndWaitsCanBeInterrupted) {
  EXPECT_TRUE(fuse_->init_out().flags & FUSE_POSIX_LOCKS);
  ASSERT_OK_AND_ASSIGN(CreateReply file,
                       fuse_->Create(FUSE_ROOT_ID, "locked", O_RDWR | O_CREAT, 0100644));
  const uint64_t node = file.entry.nodeid, fh = file.open.fh;
  ASSERT_OK_AND_ASSIGN(FuseReply locked,
                       fuse_->Call(FUSE_SETLK, node, {AsBytes(LockIn(fh, 1, F_WRLCK))}, 0));
  ASSERT_EQ(locked.error(), 0);

  // The lock is real on the host: another open file description sees it.
  const int host_fd = open(Host("locked").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(host_fd, 0);
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_len = 100;
  ASSERT_EQ(fcntl(host_fd, F_OFD_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_WRLCK);
  close(host_fd);

  // Another owner sees the conflict and cannot take the lock.
  ASSERT_OK_AND_ASSIGN(
      FuseReply got,
      fuse_->Call(FUSE_GETLK, node, {AsBytes(LockIn(fh, 2, F_WRLCK))}, sizeof(fuse_lk_out)));
  ASSERT_EQ(got.error(), 0);
  fuse_lk_out out;
  memcpy(&out, got.body.data(), sizeof(out));
  EXPECT_EQ(out.lk.type, static_cast<uint32_t>(F_WRLCK));
  ASSERT_OK_AND_ASSIGN(FuseReply refused,
                       fuse_->Call(FUSE_SETLK, node, {AsBytes(LockIn(fh, 2, F_WRLCK))}, 0));
  EXPECT_EQ(refused.error(), EAGAIN);

  // A waiting lock blocks nothing else, and INTERRUPT ends it with EINTR.
  ASSERT_OK_AND_ASSIGN(uint64_t waiting,
                       fuse_->Start(FUSE_SETLKW, node, {AsBytes(LockIn(fh, 2, F_WRLCK))}, 0));
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
  // The broker ignores an interrupt for a wait it has not registered yet (as a
  // kernel would resend it); give it time to, so the test does not depend on luck.
  absl::SleepFor(absl::Milliseconds(100));
  fuse_interrupt_in interrupt{waiting};
  ASSERT_OK(fuse_->Start(FUSE_INTERRUPT, 0, {AsBytes(interrupt)}, std::nullopt).status());
  ASSERT_OK_AND_ASSIGN(FuseReply ended, fuse_->Await(waiting));
  EXPECT_EQ(ended.error(), EINTR);

  ASSERT_OK_AND_ASSIGN(FuseReply unlocked,
                       fuse_->Call(FUSE_SETLK, node, {AsBytes(LockIn(fh, 1, F_UNLCK))}, 0));
  EXPECT_EQ(unlocked.error(), 0);
  EXPECT_OK(fuse_->Release(node, fh));
}

// A host process's OFD lock on the first 100 bytes of Host(name); released when
// the returned fd closes.
UniqueFd HostLock(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_len = 100;
  EXPECT_EQ(fcntl(fd.get(), F_OFD_SETLK, &lock), 0) << strerror(errno);
  return fd;
}

// Whether a host process can take that lock now (nobody else holds it).
bool HostCanLock(const std::string& path) {
  UniqueFd fd = HostLock(path);
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_len = 100;
  return fcntl(fd.get(), F_OFD_GETLK, &probe) == 0 && probe.l_type == F_UNLCK;
}

TEST_P(VirtiofsdTest, StoppingTheQueueEndsLockWaitsOnAHostHeldLock) {
  ASSERT_OK_AND_ASSIGN(CreateReply file,
                       fuse_->Create(FUSE_ROOT_ID, "held", O_RDWR | O_CREAT, 0100644));
  UniqueFd host = HostLock(Host("held"));
  ASSERT_OK_AND_ASSIGN(
      uint64_t waiting,
      fuse_->Start(FUSE_SETLKW, file.entry.nodeid, {AsBytes(LockIn(file.open.fh, 2, F_WRLCK))}, 0));
  EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());  // the wait is parked at the broker
  // The VM stops (QEMU's GET_VRING_BASE); the Linux driver sends no INTERRUPT, so
  // the stop itself must end the wait, and must not wait for the host.
  absl::StatusOr<std::vector<uint16_t>> stopped = driver_->StopQueues();
  host.Reset();  // so a daemon that is still waiting does not hang the rest
  ASSERT_OK(stopped.status());
  ASSERT_OK_AND_ASSIGN(FuseReply ended, fuse_->Await(waiting));
  EXPECT_EQ(ended.error(), EINTR);
  // The broker's wait ended too: it did not take the lock once the host let go.
  EXPECT_TRUE(HostCanLock(Host("held")));
}

TEST_P(VirtiofsdTest, DestroyAndANewInitEndTheOldSessionsLockWaits) {
  for (const bool destroy : {true, false}) {
    SCOPED_TRACE(destroy ? "DESTROY" : "second INIT");
    ASSERT_OK_AND_ASSIGN(CreateReply file,
                         fuse_->Create(FUSE_ROOT_ID, "held", O_RDWR | O_CREAT, 0100644));
    UniqueFd host = HostLock(Host("held"));
    ASSERT_OK_AND_ASSIGN(uint64_t waiting,
                         fuse_->Start(FUSE_SETLKW, file.entry.nodeid,
                                      {AsBytes(LockIn(file.open.fh, 2, F_WRLCK))}, 0));
    EXPECT_OK(fuse_->Getattr(FUSE_ROOT_ID).status());
    if (destroy) {
      ASSERT_OK(fuse_->Destroy());
      ASSERT_OK(fuse_->Init().status());
    } else {
      ASSERT_OK(fuse_->Init().status());  // a rebooted guest sends no DESTROY
    }
    absl::StatusOr<FuseReply> ended = fuse_->Await(waiting);
    host.Reset();
    ASSERT_OK(ended.status());
    EXPECT_EQ(ended->error(), EINTR);
    EXPECT_TRUE(HostCanLock(Host("held")));
  }
}

// Kilobytes of anonymous memory `pid` uses (RssAnon).
long RssAnonKb(pid_t pid) { return std::atol(StatusField(pid, "RssAnon").c_str()); }

TEST_P(VirtiofsdTest, RefusedLockWaitsLeaveNothingBehind) {
  if (GetParam() != Mode::kExecutables) GTEST_SKIP() << "measures the frontend process";
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "the sanitizer's quarantine keeps freed memory";
#endif
  const std::vector<pid_t> frontends = ChildrenNamed(daemon_->pid(), "virtiofsd-frontend");
  ASSERT_EQ(frontends.size(), 1u);
  // SETLKW on a handle the broker does not know: each is refused (EBADF).
  auto refuse = [&](int count) {
    int started = 0, ended = 0;
    while (ended < count) {
      while (started < count && started - ended < 128) {
        ASSERT_OK(fuse_->Start(FUSE_SETLKW, FUSE_ROOT_ID, {AsBytes(LockIn(999999, 2, F_WRLCK))}, 0)
                      .status());
        ++started;
      }
      ASSERT_OK_AND_ASSIGN(auto reply, fuse_->AwaitAny());
      ASSERT_NE(reply.second.error(), 0);
      ++ended;
    }
  };
  refuse(10000);  // the allocator's steady state
  const long before = RssAnonKb(frontends[0]);
  refuse(100000);
  const long after = RssAnonKb(frontends[0]);
  std::cout << "frontend RssAnon " << before << " kB -> " << after << " kB\n";
  // 100,000 entries left behind would take several MiB.
  EXPECT_LT(after - before, 1024) << before << " kB -> " << after << " kB";
}

TEST_P(VirtiofsdTest, ProcessesAreSplitAndConfined) {
  if (GetParam() != Mode::kExecutables) GTEST_SKIP() << "needs the executables";
  const std::vector<pid_t> frontends = ChildrenNamed(daemon_->pid(), "virtiofsd-frontend");
  const std::vector<pid_t> brokers = ChildrenNamed(daemon_->pid(), "virtiofsd-broker");
  ASSERT_EQ(frontends.size(), 1u);
  ASSERT_EQ(brokers.size(), 1u);
  const pid_t frontend = frontends[0];
  // Its own uid: --frontend-id-base (default 0x7f000000) + the launcher's pid.
  const std::string id = std::to_string(0x7f000000 + daemon_->pid());
  EXPECT_EQ(StatusField(frontend, "Uid"), absl::StrCat(id, "\t", id, "\t", id, "\t", id));
  EXPECT_EQ(StatusField(frontend, "Groups"), "");
  EXPECT_EQ(StatusField(frontend, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(frontend, "CapPrm"), "0000000000000000");
  EXPECT_EQ(StatusField(frontend, "CapBnd"), "0000000000000000");
  EXPECT_EQ(StatusField(frontend, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(frontend, "Seccomp"), "2");
  // With --sandbox=namespace the broker serves from a child in its own PID
  // namespace; the one the launcher started waits for it.
  std::vector<pid_t> serving = ChildrenNamed(brokers[0], "virtiofsd-broker");
  if (serving.empty()) serving = brokers;
  ASSERT_EQ(serving.size(), 1u);
  EXPECT_EQ(StatusField(serving[0], "Seccomp"), "2");
  EXPECT_EQ(StatusField(serving[0], "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(serving[0], "CapBnd"), "0000000000000000");
  EXPECT_NE(StatusField(serving[0], "CapEff"), "000001ffffffffff");
}

// A hostile guest that keeps files open until something gives. The launcher
// starts with a soft RLIMIT_NOFILE (256) below --rlimit-nofile (1024), as a
// shell's 1024 is below the default million: both processes must run with the
// one limit, so the guest meets the broker's fd budget (ENFILE for that OPEN)
// and never a frontend that cannot receive an fd (which ended the channel, and
// every request after it got EIO).
TEST(HostileGuestTest, HoldingFilesOpenGetsEnfileAndTheMountLives) {
  char dir_template[] = "/tmp/vfsd-nofile-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string shared = dir + "/shared";
  ASSERT_EQ(mkdir(shared.c_str(), 0755), 0);
  std::ofstream(shared + "/f") << "data";
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = {256, saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      Daemon::Start({.argv = {"launcher/virtiofsd", "--socket-path={socket}", "--shared-dir={dir}",
                              "--rlimit-nofile=1024"},
                     .socket_path = dir + "/vhost.sock",
                     .shared_dir = shared,
                     .log_path = dir + "/daemon.log"});
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_OK(daemon.status());
  ASSERT_OK_AND_ASSIGN(auto driver, VhostUserFsDriver::Connect(dir + "/vhost.sock"));
  FuseClient fuse(driver.get());
  ASSERT_OK(fuse.Init().status());
  ASSERT_OK_AND_ASSIGN(fuse_entry_out file, fuse.Lookup(FUSE_ROOT_ID, "f"));

  std::vector<uint64_t> handles;
  absl::Status refused;
  while (handles.size() < 2000) {
    absl::StatusOr<fuse_open_out> opened = fuse.Open(file.nodeid, O_RDONLY);
    if (!opened.ok()) {
      refused = opened.status();
      break;
    }
    handles.push_back(opened->fh);
  }
  EXPECT_THAT(refused, HasErrno(ENFILE)) << (*daemon)->Log();
  EXPECT_GT(handles.size(), 256u);  // more than the launcher's own soft limit
  // The mount lives: other requests are served, and a closed file makes room.
  EXPECT_OK(fuse.Getattr(file.nodeid).status());
  if (!handles.empty()) {
    EXPECT_OK(fuse.Release(file.nodeid, handles.back()));
    handles.pop_back();
    ASSERT_OK_AND_ASSIGN(fuse_open_out again, fuse.Open(file.nodeid, O_RDONLY));
    handles.push_back(again.fh);
    ASSERT_OK_AND_ASSIGN(std::string read, fuse.Read(file.nodeid, again.fh, 0, 4));
    EXPECT_EQ(read, "data");
  }
  for (uint64_t fh : handles) EXPECT_OK(fuse.Release(file.nodeid, fh));
  driver.reset();
  EXPECT_OK((*daemon)->Stop().status());
  std::filesystem::remove_all(dir);
}

// The frontend's fd table is full when an OPEN reply arrives: that request gets
// ENFILE and the real broker (its own process, under its seccomp filter) gets the
// handle back, so its fd budget (8: the root, the file and 6 handles) is not spent
// by the 20 replies the client could not take.
TEST(LostFdTest, AReplyWhoseFdCannotBeReceivedGivesTheHandleBack) {
  virtiofsd::testing::TempDir dir;
  std::ofstream(dir.Path("f")) << "data";
  FsConfig config;
  config.fd_budget = 8;
  virtiofsd::testing::TestBroker broker(dir.path(), config, 2,
                                        virtiofsd::testing::TestBroker::Mode::kForkedSeccomp);
  virtiofsd::testing::Result file = broker.Lookup(1, "f");
  ASSERT_EQ(file.error, 0);
  const uint64_t node = file.reply.entry().node();
  // UBSan checks an object's dynamic type the first time it meets the type, by
  // probing memory through a pipe, which a full fd table refuses (a false
  // "invalid vptr"): one OPEN and RELEASE first, while fds are to be had.
  {
    virtiofsd::testing::Result warm = broker.Open(node, O_RDONLY);
    ASSERT_EQ(warm.error, 0);
    EXPECT_EQ(broker.Release(warm.reply.open().handle()).error, 0);
  }
  for (int i = 0; i < 20; ++i) {
    ::virtiofsd::testing::FullFdTable full;
    EXPECT_EQ(broker.Open(node, O_RDONLY).error, ENFILE);
  }
  for (int i = 0; i < 4; ++i) {
    virtiofsd::testing::Result opened = broker.Open(node, O_RDONLY);
    ASSERT_EQ(opened.error, 0);
    EXPECT_TRUE(opened.fd.valid());
    EXPECT_EQ(broker.Release(opened.reply.open().handle()).error, 0);
  }
}

// A guest root writer has CAP_FSETID: its writes keep set-id bits, although the
// frontend (no capabilities) makes the kernel clear them.
TEST_P(VirtiofsdTest, RootWritesKeepSetIdBits) {
  { std::ofstream(Host("suid")) << "data"; }
  ASSERT_EQ(chmod(Host("suid").c_str(), 06755), 0);
  ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse_->Lookup(FUSE_ROOT_ID, "suid"));
  ASSERT_OK_AND_ASSIGN(fuse_open_out open, fuse_->Open(entry.nodeid, O_WRONLY));
  ASSERT_OK(fuse_->Write(entry.nodeid, open.fh, 0, "root").status());
  struct stat st;
  ASSERT_EQ(stat(Host("suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 06755u);
  EXPECT_EQ(ReadHostFile(Host("suid")), "root");
  // The guest says kill (a writer without CAP_FSETID, --killpriv-v2): cleared
  // (by the confined frontend's own write; the in-process one has CAP_FSETID).
  if (GetParam() == Mode::kExecutables) {
    ASSERT_OK(fuse_->Write(entry.nodeid, open.fh, 0, "r", FUSE_WRITE_KILL_SUIDGID).status());
    ASSERT_EQ(stat(Host("suid").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
  }
}

// CVE-2021-20263: with security.capability remapped by --xattrmap, every write
// clears the remapped copy, also through a handle opened before it was set.
TEST(XattrmapTest, WritesThroughOpenHandlesClearTheRemappedCapability) {
  char dir[] = "/tmp/vfsd-integration-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string shared = std::string(dir) + "/shared";
  ASSERT_EQ(mkdir(shared.c_str(), 0755), 0);
  { std::ofstream(shared + "/f") << "data"; }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Daemon> daemon,
                         Daemon::Start({.argv = {"launcher/virtiofsd", "--socket-path={socket}",
                                                 "--shared-dir={dir}", "--xattr",
                                                 "--xattrmap=:map::user.virtiofs.:"},
                                        .socket_path = std::string(dir) + "/vhost.sock",
                                        .shared_dir = shared,
                                        .log_path = std::string(dir) + "/daemon.log"}));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<VhostUserFsDriver> driver,
                         VhostUserFsDriver::Connect(std::string(dir) + "/vhost.sock"));
    FuseClient fuse(driver.get());
    ASSERT_OK(fuse.Init().status());
    const std::string host_name = "user.virtiofs.security.capability";
    auto has_capability = [&] {
      return getxattr((shared + "/f").c_str(), host_name.c_str(), nullptr, 0) >= 0;
    };
    ASSERT_OK_AND_ASSIGN(fuse_entry_out entry, fuse.Lookup(FUSE_ROOT_ID, "f"));
    ASSERT_OK_AND_ASSIGN(fuse_open_out open, fuse.Open(entry.nodeid, O_RDWR));
    ASSERT_OK(fuse.Write(entry.nodeid, open.fh, 0, "1").status());
    ASSERT_OK(fuse.Setxattr(entry.nodeid, "security.capability", "cap"));
    ASSERT_TRUE(has_capability());
    ASSERT_OK(fuse.Write(entry.nodeid, open.fh, 1, "2").status());
    EXPECT_FALSE(has_capability());
    // Set on the host behind the guest's back, it is the host's business; set again
    // through the guest, the next write clears it again.
    ASSERT_OK(fuse.Setxattr(entry.nodeid, "security.capability", "cap"));
    ASSERT_OK(fuse.Write(entry.nodeid, open.fh, 2, "3").status());
    EXPECT_FALSE(has_capability());
    EXPECT_EQ(ReadHostFile(shared + "/f"), "123a");
    if (::testing::Test::HasFailure()) std::cerr << "daemon log:\n" << daemon->Log();
    fuse.Release(entry.nodeid, open.fh).IgnoreError();
  }
  std::filesystem::remove_all(dir);
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// SIGKILL to the broker that serves (the launcher's child, or its child in a pid
// namespace of its own).
void KillServingBroker(const Daemon& daemon) {
  const std::vector<pid_t> brokers = ChildrenNamed(daemon.pid(), "virtiofsd-broker");
  ASSERT_EQ(brokers.size(), 1u);
  std::vector<pid_t> serving = ChildrenNamed(brokers[0], "virtiofsd-broker");
  if (serving.empty()) serving = brokers;
  ASSERT_EQ(kill(serving[0], SIGKILL), 0);
}

// The GETATTR of the root until it answers `ok` (10 s at most): the frontend
// learns of a broker's end when the channel closes, and serves again once the
// launcher's new broker has handshaken.
absl::Status AwaitGetattr(FuseClient& fuse, bool ok) {
  absl::Status getattr;
  for (int i = 0; i < 1000; ++i) {
    getattr = fuse.Getattr(FUSE_ROOT_ID).status();
    if (getattr.ok() == ok) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return getattr;
}

struct BrokerGone {
  std::string dir;
  std::string shared;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<VhostUserFsDriver> driver;
  std::unique_ptr<FuseClient> fuse;
};

void StartBrokerGone(BrokerGone& run) {
  char dir_template[] = "/tmp/vfsd-broker-gone-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  run.dir = dir_template;
  run.shared = run.dir + "/shared";
  ASSERT_EQ(mkdir(run.shared.c_str(), 0755), 0);
  // These daemons end on their own (QEMU goes away) rather than by a signal: in
  // sanitizer builds LeakSanitizer's exit-time scan would then need ptrace, which
  // the children's seccomp filters kill (SIGSYS), and the daemon would exit 1.
  setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
  ASSERT_OK_AND_ASSIGN(
      run.daemon,
      Daemon::Start({.argv = {"launcher/virtiofsd", "--socket-path={socket}", "--shared-dir={dir}"},
                     .socket_path = run.dir + "/vhost.sock",
                     .shared_dir = run.shared,
                     .log_path = run.dir + "/daemon.log"}));
  ASSERT_OK_AND_ASSIGN(run.driver, VhostUserFsDriver::Connect(run.dir + "/vhost.sock"));
  run.fuse = std::make_unique<FuseClient>(run.driver.get());
  ASSERT_OK(run.fuse->Init().status());
}

// The VMM goes; the daemon's wait status.
int EndBrokerGone(BrokerGone& run) {
  EXPECT_TRUE(run.daemon->Running()) << "the daemon left a VMM it served";
  run.fuse.reset();
  run.driver.reset();  // QEMU goes away
  for (int i = 0; i < 1000 && run.daemon->Running(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(run.daemon->Running()) << "the daemon outlived the VMM";
  absl::StatusOr<int> status = run.daemon->Stop();
  EXPECT_OK(status.status());
  return status.value_or(-1);
}

// The broker dies (SIGKILL to the one serving) while the guest has a file open
// and a directory looked up. The launcher starts a new one and the frontend
// carries on: the node ids the guest holds name the same files, the open file
// reads, writes and fsyncs, new files get ids of their own; the daemon ends as if
// the broker never died.
TEST(BrokerGoneTest, ANewBrokerServesTheSameNodesAndOpenFiles) {
  BrokerGone run;
  ASSERT_NO_FATAL_FAILURE(StartBrokerGone(run));
  FuseClient& fuse = *run.fuse;
  ASSERT_OK_AND_ASSIGN(CreateReply file, fuse.Create(FUSE_ROOT_ID, "kept", O_RDWR, 0644));
  const uint64_t node = file.entry.nodeid;
  const uint64_t fh = file.open.fh;
  ASSERT_OK_AND_ASSIGN(uint32_t written, fuse.Write(node, fh, 0, Pattern(65536, 'k')));
  ASSERT_EQ(written, 65536u);
  ASSERT_OK(fuse.Fsync(node, fh));
  ASSERT_OK_AND_ASSIGN(fuse_entry_out dir, fuse.Mkdir(FUSE_ROOT_ID, "d", 0755));

  ASSERT_NO_FATAL_FAILURE(KillServingBroker(*run.daemon));
  EXPECT_THAT(AwaitGetattr(fuse, false), HasErrno(EIO));
  ASSERT_OK(AwaitGetattr(fuse, true));

  const std::string more = Pattern(4096, 'm');
  ASSERT_OK_AND_ASSIGN(written, fuse.Write(node, fh, 65536, more));
  EXPECT_EQ(written, more.size());
  EXPECT_OK(fuse.Fsync(node, fh));
  ASSERT_OK_AND_ASSIGN(std::string read, fuse.Read(node, fh, 65536, 4096));
  EXPECT_EQ(read, more);
  ASSERT_OK_AND_ASSIGN(fuse_entry_out again, fuse.Lookup(FUSE_ROOT_ID, "kept"));
  EXPECT_EQ(again.nodeid, node);
  ASSERT_OK_AND_ASSIGN(CreateReply inner, fuse.Create(dir.nodeid, "inner", O_RDWR, 0644));
  EXPECT_NE(inner.entry.nodeid, node);
  EXPECT_NE(inner.entry.nodeid, dir.nodeid);
  EXPECT_OK(fuse.Release(node, fh));

  const int status = EndBrokerGone(run);
  const std::string log = run.daemon->Log();
  EXPECT_EQ(status, 0) << log;
  EXPECT_EQ(Count(log, "broker was killed by signal 9 (SIGKILL); started a new broker"), 1) << log;
  EXPECT_EQ(Count(log, "serving through a new broker"), 1) << log;
  EXPECT_EQ(ReadHostFile(run.shared + "/kept"), Pattern(65536, 'k') + more);
  struct stat st;
  EXPECT_EQ(stat((run.shared + "/d/inner").c_str(), &st), 0);
  std::filesystem::remove_all(run.dir);
}

// The launcher restarts at most 3 brokers a minute. The 4th death is for good:
// every later request fails with EIO at once (READ and WRITE of the open file
// too), each broker's end is logged once, and the daemon exits 1 when the VMM
// goes. What was fsync'd before is on the host.
TEST(BrokerGoneTest, EveryLaterRequestGetsEioOnceRestartsAreExhausted) {
  BrokerGone run;
  ASSERT_NO_FATAL_FAILURE(StartBrokerGone(run));
  FuseClient& fuse = *run.fuse;
  ASSERT_OK_AND_ASSIGN(CreateReply file, fuse.Create(FUSE_ROOT_ID, "kept", O_RDWR, 0644));
  const uint64_t node = file.entry.nodeid;
  const uint64_t fh = file.open.fh;
  const std::string data = Pattern(65536, 'k');
  ASSERT_OK_AND_ASSIGN(uint32_t written, fuse.Write(node, fh, 0, data));
  ASSERT_EQ(written, data.size());
  ASSERT_OK(fuse.Fsync(node, fh));

  constexpr int kKills = 4;
  for (int i = 1; i <= kKills; ++i) {
    ASSERT_NO_FATAL_FAILURE(KillServingBroker(*run.daemon));
    EXPECT_THAT(AwaitGetattr(fuse, false), HasErrno(EIO));
    if (i < kKills) {
      ASSERT_OK(AwaitGetattr(fuse, true)) << "no new broker after kill " << i;
    }
  }
  // The launcher gives up (it first waits a moment for the frontend to end too).
  for (int i = 0; i < 1000 && Count(run.daemon->Log(), "no more") == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_THAT(fuse.Lookup(FUSE_ROOT_ID, "kept"), HasErrno(EIO));
    EXPECT_THAT(fuse.Getattr(node), HasErrno(EIO));
    EXPECT_THAT(fuse.Write(node, fh, 0, "lost"), HasErrno(EIO));
    EXPECT_THAT(fuse.Read(node, fh, 0, 16), HasErrno(EIO));
    EXPECT_THAT(fuse.Fsync(node, fh), HasErrno(EIO));
    EXPECT_THAT(fuse.Opendir(FUSE_ROOT_ID), HasErrno(EIO));
    EXPECT_THAT(fuse.Create(FUSE_ROOT_ID, "new", O_RDWR, 0644), HasErrno(EIO));
    EXPECT_THAT(fuse.Statfs(), HasErrno(EIO));
  }
  const int status = EndBrokerGone(run);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;
  const std::string log = run.daemon->Log();
  // The launcher names how each broker ended, once; the frontend says once per
  // broker what it means; 400 failed requests add no error line.
  EXPECT_EQ(Count(log, "broker was killed by signal 9 (SIGKILL)"), kKills) << log;
  EXPECT_EQ(Count(log, "3 restarts within 1m, no more"), 1) << log;
  EXPECT_EQ(Count(log, "every request fails from now on"), kKills) << log;
  EXPECT_LE(Count(log, "ERROR"), 4 * kKills) << log;
  EXPECT_EQ(ReadHostFile(run.shared + "/kept"), data);
  std::filesystem::remove_all(run.dir);
}

INSTANTIATE_TEST_SUITE_P(Modes, VirtiofsdTest,
                         ::testing::Values(Mode::kInProcess, Mode::kExecutables),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return info.param == Mode::kInProcess ? "InProcess" : "Executables";
                         });

}  // namespace
}  // namespace virtiofsd::driver
