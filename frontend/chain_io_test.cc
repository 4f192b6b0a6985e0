#include "frontend/chain_io.h"

#include <string>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

TEST(ChainCursorTest, CopiesAcrossBuffers) {
  char a[3] = {'a', 'b', 'c'}, b[1] = {'d'}, c[4] = {'e', 'f', 'g', 'h'};
  iovec buffers[] = {{a, 3}, {b, 1}, {c, 4}};
  ChainCursor cursor(buffers);
  EXPECT_EQ(cursor.remaining(), 8u);
  char out[6] = {};
  EXPECT_EQ(cursor.CopyOut(out, 5), 5u);
  EXPECT_EQ(std::string(out, 5), "abcde");
  EXPECT_EQ(cursor.remaining(), 3u);
  EXPECT_EQ(cursor.CopyOut(out, 6), 3u);  // Only what is left.
  EXPECT_EQ(std::string(out, 3), "fgh");
  EXPECT_EQ(cursor.CopyOut(out, 1), 0u);
}

TEST(ChainCursorTest, CopyInFillsInOrder) {
  char a[2] = {}, b[3] = {};
  iovec buffers[] = {{a, 2}, {b, 3}};
  ChainCursor cursor(buffers);
  EXPECT_EQ(cursor.CopyIn("vwxyz!", 6), 5u);
  EXPECT_EQ(std::string(a, 2), "vw");
  EXPECT_EQ(std::string(b, 3), "xyz");
}

TEST(ChainCursorTest, TakeSplitsBuffersWithoutCopying) {
  char a[4], b[4];
  iovec buffers[] = {{a, 4}, {b, 4}};
  ChainCursor cursor(buffers);
  char header[2];
  cursor.CopyOut(header, 2);
  IovecList taken = cursor.Take(4);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].iov_base, a + 2);
  EXPECT_EQ(taken[0].iov_len, 2u);
  EXPECT_EQ(taken[1].iov_base, b);
  EXPECT_EQ(taken[1].iov_len, 2u);
  EXPECT_EQ(cursor.remaining(), 2u);
  EXPECT_EQ(cursor.Take(100).size(), 1u);
  EXPECT_EQ(cursor.remaining(), 0u);
}

TEST(ChainCursorTest, EmptyChain) {
  ChainCursor cursor({});
  char c;
  EXPECT_EQ(cursor.CopyOut(&c, 1), 0u);
  EXPECT_TRUE(cursor.Take(10).empty());
}

}  // namespace
}  // namespace virtiofsd
