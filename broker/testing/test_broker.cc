#include "broker/testing/test_broker.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/landlock.h"
#include "broker/seccomp_policy.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {

TempDir::TempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/broker.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) abort();
  chmod(pattern.c_str(), 0755);
  path_ = pattern;
}

TempDir::~TempDir() {
  nftw(
      path_.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) { return remove(path); }, 64,
      FTW_DEPTH | FTW_PHYS);
}

int AsCaller(uid_t uid, gid_t gid, const std::function<int()>& fn) {
  int result = 0;
  std::thread thread([&] {
    syscall(SYS_setfsgid, gid);
    syscall(SYS_setfsuid, uid);
    result = fn();
  });
  thread.join();
  return result;
}

int AsUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, const std::function<int()>& fn) {
  int result = -1;
  // The raw syscalls change this thread's credentials only (libc's wrappers would
  // change every thread's); the thread ends with them.
  std::thread thread([&] {
    if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0 ||
        syscall(SYS_setresgid, gid, gid, gid) != 0 || syscall(SYS_setresuid, uid, uid, uid) != 0) {
      ADD_FAILURE() << "cannot become " << uid << ":" << gid << ": " << strerror(errno);
      return;
    }
    result = fn();
  });
  thread.join();
  return result;
}

namespace {

std::unique_ptr<FileSystem> MakeFileSystem(const std::string& shared_dir, FsConfig config) {
  UniqueFd dir(open(shared_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto fs = FileSystem::Create(std::move(dir), std::move(proc), std::move(config));
  if (!fs.ok()) abort();
  return *std::move(fs);
}

}  // namespace

TestBroker::TestBroker(const std::string& shared_dir, FsConfig config, int threads, Mode mode) {
  auto pair = FrameSocket::CreatePair();
  if (!pair.ok()) abort();
  if (mode == Mode::kFileHandles) config.inode_file_handles = FileHandleMode::kMandatory;
  if (mode == Mode::kForkedSeccomp) {
    child_ = fork();
    if (child_ == 0) {
      // The broker as the executable runs it: Landlock and the filter on before
      // the first request.
      FrameSocket socket = std::move(pair->second);
      { FrameSocket unused = std::move(pair->first); }  // Close (not shut down) our copy.
      std::unique_ptr<FileSystem> fs = MakeFileSystem(shared_dir, std::move(config));
      Server server(socket, *fs, threads);
      UniqueFd share(open(shared_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !RestrictToShare(share.get()).ok()) {
        _exit(3);
      }
      if (!InstallSeccompPolicy(SeccompAction::kKill).ok()) _exit(3);
      _exit(server.Run().ok() ? 0 : 1);
    }
    // Our copy of the broker's end must go, or a dead broker would not be noticed.
    { FrameSocket unused = std::move(pair->second); }
  } else {
    fs_ = MakeFileSystem(shared_dir, std::move(config));
    server_socket_ = std::make_unique<FrameSocket>(std::move(pair->second));
    server_ = std::make_unique<Server>(*server_socket_, *fs_, threads);
    serving_ = std::thread([this] { EXPECT_TRUE(server_->Run().ok()); });
  }
  client_ = std::make_unique<BrokerClient>(std::move(pair->first));
  SetCaller(0, 0);
  proto::Request handshake;
  handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
  EXPECT_EQ(Call(handshake).error, 0);
}

TestBroker::~TestBroker() {
  client_.reset();  // Closes the channel: the server returns.
  if (serving_.joinable()) serving_.join();
  if (child_ > 0) {
    int status = 0;
    waitpid(child_, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the seccomp-confined broker ended with status " << status
        << (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? " (SIGSYS: a syscall is missing)"
                                                              : "");
  }
}

void TestBroker::SetCaller(uid_t uid, gid_t gid, mode_t umask) {
  caller_.set_uid(uid);
  caller_.set_gid(gid);
  caller_.set_umask(umask);
  caller_.set_pid(1);
}

proto::Request TestBroker::Base() {
  proto::Request request;
  *request.mutable_caller() = caller_;
  return request;
}

Result TestBroker::Call(proto::Request request) {
  if (!request.has_caller()) *request.mutable_caller() = caller_;
  Result result;
  absl::StatusOr<BrokerResponse> response = client_->Call(std::move(request));
  if (!response.ok()) {
    ADD_FAILURE() << "channel failed: " << response.status();
    return result;
  }
  result.error = response->reply.error();
  result.reply = std::move(response->reply);
  result.fd = std::move(response->fd);
  return result;
}

void TestBroker::SendOneWay(proto::Request request) {
  if (!request.has_caller()) *request.mutable_caller() = caller_;
  EXPECT_TRUE(client_->SendOneWay(std::move(request)).ok());
}

Result TestBroker::Lookup(uint64_t parent, const std::string& name) {
  proto::Request r = Base();
  r.mutable_lookup()->set_parent(parent);
  r.mutable_lookup()->set_name(name);
  return Call(std::move(r));
}

Result TestBroker::Getattr(uint64_t node) {
  proto::Request r = Base();
  r.mutable_getattr()->set_node(node);
  return Call(std::move(r));
}

Result TestBroker::Mkdir(uint64_t parent, const std::string& name, mode_t mode) {
  proto::Request r = Base();
  r.mutable_mkdir()->set_parent(parent);
  r.mutable_mkdir()->set_name(name);
  r.mutable_mkdir()->set_mode(mode);
  return Call(std::move(r));
}

Result TestBroker::Mknod(uint64_t parent, const std::string& name, mode_t mode, dev_t rdev) {
  proto::Request r = Base();
  r.mutable_mknod()->set_parent(parent);
  r.mutable_mknod()->set_name(name);
  r.mutable_mknod()->set_mode(mode);
  r.mutable_mknod()->set_rdev(static_cast<uint32_t>(rdev));
  return Call(std::move(r));
}

Result TestBroker::Symlink(uint64_t parent, const std::string& name, const std::string& target) {
  proto::Request r = Base();
  r.mutable_symlink()->set_parent(parent);
  r.mutable_symlink()->set_name(name);
  r.mutable_symlink()->set_target(target);
  return Call(std::move(r));
}

Result TestBroker::Create(uint64_t parent, const std::string& name, int flags, mode_t mode) {
  proto::Request r = Base();
  r.mutable_create()->set_parent(parent);
  r.mutable_create()->set_name(name);
  r.mutable_create()->set_flags(flags);
  r.mutable_create()->set_mode(mode);
  return Call(std::move(r));
}

Result TestBroker::Open(uint64_t node, int flags) {
  proto::Request r = Base();
  r.mutable_open()->set_node(node);
  r.mutable_open()->set_flags(flags);
  return Call(std::move(r));
}

Result TestBroker::Release(uint64_t handle) {
  proto::Request r = Base();
  r.mutable_release()->set_handle(handle);
  return Call(std::move(r));
}

Result TestBroker::Unlink(uint64_t parent, const std::string& name) {
  proto::Request r = Base();
  r.mutable_unlink()->set_parent(parent);
  r.mutable_unlink()->set_name(name);
  return Call(std::move(r));
}

Result TestBroker::Rmdir(uint64_t parent, const std::string& name) {
  proto::Request r = Base();
  r.mutable_rmdir()->set_parent(parent);
  r.mutable_rmdir()->set_name(name);
  return Call(std::move(r));
}

Result TestBroker::Opendir(uint64_t node) {
  proto::Request r = Base();
  r.mutable_opendir()->set_node(node);
  return Call(std::move(r));
}

Result TestBroker::Readdir(uint64_t handle, uint64_t offset, uint32_t max_bytes, bool plus) {
  proto::Request r = Base();
  r.mutable_readdir()->set_handle(handle);
  r.mutable_readdir()->set_offset(offset);
  r.mutable_readdir()->set_max_bytes(max_bytes);
  r.mutable_readdir()->set_plus(plus);
  // The FUSE layout: fuse_dirent (24 bytes), or fuse_direntplus (152), then the
  // name padded to 8 bytes.
  r.mutable_readdir()->set_entry_bytes(plus ? 152 : 24);
  r.mutable_readdir()->set_name_alignment(8);
  return Call(std::move(r));
}

void TestBroker::Forget(uint64_t node, uint64_t count) {
  proto::Request r;
  r.mutable_forget()->set_node(node);
  r.mutable_forget()->set_nlookup(count);
  SendOneWay(std::move(r));
}

}  // namespace virtiofsd::testing
