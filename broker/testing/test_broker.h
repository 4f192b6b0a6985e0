// Test helpers for the broker suites: a broker served in this process over a
// FrameSocket pair on a directory, driven through the real BrokerClient as the
// frontend would; temp dirs; and running a host syscall as another fsuid, so a
// test can compare the broker's errno with the kernel's own answer.

#ifndef VIRTIOFSD_BROKER_TESTING_TEST_BROKER_H_
#define VIRTIOFSD_BROKER_TESTING_TEST_BROKER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker/filesystem.h"
#include "broker/server.h"
#include "common/channel/broker_client.h"
#include "common/channel/frame_socket.h"
#include "common/unique_fd.h"
#include "proto/broker.pb.h"

namespace virtiofsd::testing {

// A fresh directory under TEST_TMPDIR (mode 0755), removed with its contents by
// the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Path(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Runs `fn` on a thread whose fsuid/fsgid are uid/gid (no supplementary groups)
// and returns its result: the host's own answer for that caller.
int AsCaller(uid_t uid, gid_t gid, const std::function<int()>& fn);

// Runs `fn` on a thread that is wholly uid/gid with supplementary `groups` and no
// capabilities, as a guest user's process is: the answer a local filesystem gives
// that user (the guest kernel's checks plus the host's).
int AsUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, const std::function<int()>& fn);

// errno of a syscall result: 0 when it succeeded.
inline int Err(long result) { return result < 0 ? errno : 0; }

// A reply and its fd; error is the reply's errno, or -1 when the channel failed.
struct Result {
  int error = -1;
  proto::Reply reply;
  UniqueFd fd;
};

class TestBroker {
 public:
  enum class Mode {
    kInProcess,      // Server threads in this process.
    kForkedSeccomp,  // A forked child serves under the broker's Landlock and seccomp (kill).
    kFileHandles,    // In this process, non-directories held as file handles (mandatory).
  };

  // Serves `shared_dir` with `config` on `threads` threads, and handshakes.
  explicit TestBroker(const std::string& shared_dir, FsConfig config = {}, int threads = 2,
                      Mode mode = Mode::kInProcess);
  ~TestBroker();

  // The caller every later request carries.
  void SetCaller(uid_t uid, gid_t gid, mode_t umask = 022);

  Result Call(proto::Request request);
  void SendOneWay(proto::Request request);
  BrokerClient& client() { return *client_; }
  // Only in Mode::kInProcess.
  FileSystem& fs() { return *fs_; }
  bool in_process() const { return fs_ != nullptr; }

  // One helper per common operation.
  Result Lookup(uint64_t parent, const std::string& name);
  Result Getattr(uint64_t node);
  Result Mkdir(uint64_t parent, const std::string& name, mode_t mode = 0755);
  Result Mknod(uint64_t parent, const std::string& name, mode_t mode, dev_t rdev = 0);
  Result Symlink(uint64_t parent, const std::string& name, const std::string& target);
  Result Create(uint64_t parent, const std::string& name, int flags, mode_t mode = 0644);
  Result Open(uint64_t node, int flags);
  Result Release(uint64_t handle);
  Result Unlink(uint64_t parent, const std::string& name);
  Result Rmdir(uint64_t parent, const std::string& name);
  Result Opendir(uint64_t node);
  Result Readdir(uint64_t handle, uint64_t offset, uint32_t max_bytes, bool plus);
  void Forget(uint64_t node, uint64_t count);

 private:
  proto::Request Base();

  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<FrameSocket> server_socket_;
  std::unique_ptr<Server> server_;
  std::thread serving_;
  std::unique_ptr<BrokerClient> client_;
  pid_t child_ = -1;
  proto::Caller caller_;
};

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_BROKER_TESTING_TEST_BROKER_H_
