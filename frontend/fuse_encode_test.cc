#include "frontend/fuse_encode.h"

#include <string.h>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

proto::DirEntry Dirent(const std::string& name, uint64_t ino, uint64_t node) {
  proto::DirEntry entry;
  entry.set_name(name);
  entry.set_ino(ino);
  entry.set_offset(ino + 100);
  entry.set_type(8);
  if (node != 0) {
    entry.mutable_entry()->set_node(node);
    entry.mutable_entry()->mutable_attr()->set_ino(ino);
  }
  return entry;
}

TEST(FuseEncodeTest, AttrFieldsMapOneToOne) {
  proto::Attr attr;
  attr.set_ino(7);
  attr.set_size(4096);
  attr.set_mode(0100644);
  attr.set_uid(1000);
  attr.set_mtime(1700000000);
  attr.set_mtime_nsec(5);
  attr.set_flags(FUSE_ATTR_SUBMOUNT);
  fuse_attr out = ToFuseAttr(attr);
  EXPECT_EQ(out.ino, 7u);
  EXPECT_EQ(out.size, 4096u);
  EXPECT_EQ(out.mode, 0100644u);
  EXPECT_EQ(out.uid, 1000u);
  EXPECT_EQ(out.mtime, 1700000000u);
  EXPECT_EQ(out.mtimensec, 5u);
  EXPECT_EQ(out.flags, static_cast<uint32_t>(FUSE_ATTR_SUBMOUNT));
}

TEST(FuseEncodeTest, EntryCarriesTimeouts) {
  proto::Entry entry;
  entry.set_node(9);
  entry.set_generation(2);
  fuse_entry_out out = ToEntryOut(entry, 86400);
  EXPECT_EQ(out.nodeid, 9u);
  EXPECT_EQ(out.generation, 2u);
  EXPECT_EQ(out.entry_valid, 86400u);
  EXPECT_EQ(out.attr_valid, 86400u);
}

TEST(FuseEncodeTest, DirentsAreAlignedAndDecodable) {
  std::string out;
  ASSERT_TRUE(AppendDirent(Dirent("a", 5, 0), false, 1, 4096, out));
  ASSERT_TRUE(AppendDirent(Dirent("longer-name", 6, 0), false, 1, 4096, out));
  EXPECT_EQ(out.size(), DirentSize(1, false) + DirentSize(11, false));
  EXPECT_EQ(out.size() % 8, 0u);
  fuse_dirent first;
  memcpy(&first, out.data(), FUSE_NAME_OFFSET);
  EXPECT_EQ(first.ino, 5u);
  EXPECT_EQ(first.off, 105u);
  EXPECT_EQ(first.namelen, 1u);
  EXPECT_EQ(out[FUSE_NAME_OFFSET], 'a');
  fuse_dirent second;
  memcpy(&second, out.data() + DirentSize(1, false), FUSE_NAME_OFFSET);
  EXPECT_EQ(second.namelen, 11u);
}

TEST(FuseEncodeTest, DirentPlusHasEntryAndZeroNodeForDots) {
  std::string out;
  ASSERT_TRUE(AppendDirent(Dirent(".", 1, 0), true, 1, 4096, out));
  ASSERT_TRUE(AppendDirent(Dirent("f", 5, 44), true, 1, 4096, out));
  fuse_entry_out dot;
  memcpy(&dot, out.data(), sizeof(dot));
  EXPECT_EQ(dot.nodeid, 0u);
  fuse_entry_out file;
  memcpy(&file, out.data() + DirentSize(1, true), sizeof(file));
  EXPECT_EQ(file.nodeid, 44u);
  EXPECT_EQ(file.attr.ino, 5u);
}

TEST(FuseEncodeTest, StopsAtTheBufferSize) {
  std::string out;
  const size_t one = DirentSize(1, false);
  ASSERT_TRUE(AppendDirent(Dirent("a", 1, 0), false, 1, one, out));
  EXPECT_FALSE(AppendDirent(Dirent("b", 2, 0), false, 1, one, out));
  EXPECT_EQ(out.size(), one);
  EXPECT_FALSE(AppendDirent(Dirent("", 3, 0), false, 1, 4096, out));
  EXPECT_FALSE(AppendDirent(Dirent(std::string(300, 'x'), 3, 0), false, 1, 100000, out));
}

}  // namespace
}  // namespace virtiofsd
