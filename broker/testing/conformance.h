// The broker conformance fixture, shared by the suites of each handler family
// (entry_ops_test, file_ops_test, dir_ops_test, xattr_ops_test) and the
// cross-family conformance_test: it drives the broker through the real channel
// (BrokerClient <-> Server on a socket pair) as the frontend would, on a temp
// dir, and compares every result and errno with what the same syscall returns
// directly on the host (on a mirror directory with the same contents, as the
// same caller). Every case runs in each TestBroker::Mode (AllModes()).

#ifndef VIRTIOFSD_BROKER_TESTING_CONFORMANCE_H_
#define VIRTIOFSD_BROKER_TESTING_CONFORMANCE_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "broker/testing/test_broker.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {

inline constexpr uint64_t kRoot = 1;
inline constexpr uid_t kUser = 1000;
inline constexpr gid_t kGroup = 1000;

inline void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  fchmod(fd.get(), mode);
}

// Polls `done` for up to 2 s.
inline bool Eventually(const std::function<bool()>& done) {
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

inline proto::Request SetattrReq(uint64_t node, uint32_t valid) {
  proto::Request req;
  req.mutable_setattr()->set_node(node);
  req.mutable_setattr()->set_valid(valid);
  return req;
}

inline proto::Request GetxattrReq(uint64_t node, const std::string& name, uint32_t size) {
  proto::Request req;
  req.mutable_getxattr()->set_node(node);
  req.mutable_getxattr()->set_name(name);
  req.mutable_getxattr()->set_size(size);
  return req;
}

inline proto::Request SetxattrReq(uint64_t node, const std::string& name, const std::string& value,
                                  uint32_t flags = 0) {
  proto::Request req;
  req.mutable_setxattr()->set_node(node);
  req.mutable_setxattr()->set_name(name);
  req.mutable_setxattr()->set_value(value);
  req.mutable_setxattr()->set_flags(flags);
  return req;
}

// Every case again with the broker in a child under its seccomp policy (kill):
// a syscall missing from the allow-list fails the case with SIGSYS; and again
// with non-directories held as file handles instead of fds.
inline auto AllModes() {
  return ::testing::Values(TestBroker::Mode::kInProcess, TestBroker::Mode::kForkedSeccomp,
                           TestBroker::Mode::kFileHandles);
}

inline std::string ModeName(const ::testing::TestParamInfo<TestBroker::Mode>& info) {
  switch (info.param) {
    case TestBroker::Mode::kInProcess:
      return "InProcess";
    case TestBroker::Mode::kForkedSeccomp:
      return "Seccomp";
    case TestBroker::Mode::kFileHandles:
      break;
  }
  return "FileHandles";
}

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_BROKER_TESTING_CONFORMANCE_H_
