#include "common/child_config.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/status_matchers.h"
#include "common/testing/config_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace virtiofsd {
namespace {

using ::testing::HasSubstr;
using ::virtiofsd::testing::ConfigFromText;
using ::virtiofsd::testing::StatusIs;

// `bytes` as a fresh fd the reader may close.
int FdHolding(const std::string& bytes) {
  absl::StatusOr<UniqueFd> fd = SealedMemfd(bytes);
  EXPECT_TRUE(fd.ok()) << fd.status();
  return fd->Release();
}

TEST(ChildConfigTest, RoundTripsThroughASealedMemfd) {
  const auto sent = ConfigFromText<proto::BrokerConfig>(
      R"(channel_fd: 3 shared_dir: "/srv" sandbox: "chroot" translate_uid: "map:0:1000:1"
         launcher_fd: 5)");
  absl::StatusOr<UniqueFd> fd = ConfigMemfd(sent);
  ASSERT_TRUE(fd.ok()) << fd.status();
  // Sealed: the child cannot change what it was given, nor could anyone else.
  EXPECT_EQ(write(fd->get(), "x", 1), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  const int raw = fd->Release();
  proto::BrokerConfig received;
  ASSERT_TRUE(ReadConfig(raw, received).ok());
  EXPECT_EQ(received.SerializeAsString(), sent.SerializeAsString());
  EXPECT_TRUE(received.has_launcher_fd());
  EXPECT_EQ(fcntl(raw, F_GETFD), -1) << "the reader closes the fd";
}

TEST(ChildConfigTest, RefusesWhatIsNotAWholeConfiguration) {
  proto::FrontendConfig sent;
  sent.set_channel_fd(3);
  sent.set_tag("a tag long enough to be cut");
  const std::string good = EncodeConfig(sent);
  const struct {
    std::string bytes;
    const char* why;
  } cases[] = {
      {"", "not a virtiofsd configuration"},
      {"VFSC", "not a virtiofsd configuration"},
      {"#!/bin/sh\necho hi\n", "not a virtiofsd configuration"},
      {good.substr(0, good.size() - 3), "truncated"},
      {good + "x", "padded"},
      {std::string("VFSC\x02\0\0\0\xff\xff", 10), "does not parse"},
  };
  for (const auto& c : cases) {
    proto::FrontendConfig received;
    absl::Status status = ReadConfig(FdHolding(c.bytes), received);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << c.why;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.why));
    EXPECT_THAT(std::string(status.message()), HasSubstr("virtiofsd.proto.FrontendConfig"));
  }
}

TEST(ChildConfigTest, RefusesWhatIsNotASealedMemfdWithoutBlocking) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);  // Nothing written: a read would block.
  UniqueFd write_end(pipe_fds[1]);
  proto::BrokerConfig received;
  absl::Status status = ReadConfig(pipe_fds[0], received);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("not a sealed memfd"));
  // An unsealed memfd holding a good configuration: it could change under us.
  UniqueFd unsealed(memfd_create("config", MFD_CLOEXEC));
  const std::string good = EncodeConfig(ConfigFromText<proto::BrokerConfig>("channel_fd: 3"));
  ASSERT_EQ(write(unsealed.get(), good.data(), good.size()), static_cast<ssize_t>(good.size()));
  EXPECT_THAT(ReadConfig(unsealed.Release(), received),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ChildConfigTest, SaysSoWhenTheFdIsNotOpen) {
  proto::BrokerConfig received;
  absl::Status status = ReadConfig(1000, received);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("fd 1000: not open"));
}

}  // namespace
}  // namespace virtiofsd
