#include "tests/e2e/md5.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace virtiofsd::e2e {
namespace {

using ::virtiofsd::testing::HasErrno;

// The test suite of RFC 1321, appendix A.5.
TEST(Md5Test, MatchesRfc1321Vectors) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Md5Hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(Md5Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(Md5Hex("1234567890123456789012345678901234567890123456789012345678901234567890"
                   "1234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

// Lengths around the 56-byte padding boundary and the 64-byte block, fed in odd pieces.
TEST(Md5Test, PiecewiseUpdatesMatchOneUpdate) {
  for (size_t len : {55, 56, 57, 63, 64, 65, 127, 128, 1000}) {
    std::string data(len, '\0');
    for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>(i * 7 + 3);
    Md5 md5;
    for (size_t i = 0; i < len; i += 13) md5.Update(data.data() + i, std::min<size_t>(13, len - i));
    EXPECT_EQ(md5.HexDigest(), Md5Hex(data)) << "length " << len;
  }
}

TEST(Md5Test, HashesAFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/md5-file";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  close(fd);
  ASSERT_OK_AND_ASSIGN(std::string sum, Md5OfFile(path));
  EXPECT_EQ(sum, "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Md5Test, MissingFileKeepsTheErrno) {
  EXPECT_THAT(Md5OfFile("/nonexistent/md5-file").status(), HasErrno(ENOENT));
}

}  // namespace
}  // namespace virtiofsd::e2e
