#include "broker/node_table.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

std::shared_ptr<Inode> MakeInode(uint64_t ino, FdToken token = FdToken()) {
  return std::make_shared<Inode>(UniqueFd(open("/", O_PATH | O_CLOEXEC)), InodeKey{ino, 1, 1},
                                 S_IFREG, std::move(token));
}

TEST(NodeTableTest, RootIsOneAndNeverForgotten) {
  NodeTable table(MakeInode(2));
  EXPECT_NE(table.Get(NodeTable::kRootId), nullptr);
  table.Forget(NodeTable::kRootId, 100);
  EXPECT_NE(table.Get(NodeTable::kRootId), nullptr);
  EXPECT_EQ(table.size(), 1u);
}

TEST(NodeTableTest, SameKeySameNodeAndLookupsCount) {
  NodeTable table(MakeInode(2));
  int made = 0;
  auto make = [&] {
    ++made;
    return MakeInode(10);
  };
  const uint64_t a = table.LookupOrInsert(InodeKey{10, 1, 1}, make);
  const uint64_t b = table.LookupOrInsert(InodeKey{10, 1, 1}, make);
  EXPECT_EQ(a, b);
  EXPECT_EQ(made, 1);
  // Another mount with the same ino and dev is another inode.
  const uint64_t c = table.LookupOrInsert(InodeKey{10, 1, 2}, [] { return MakeInode(10); });
  EXPECT_NE(c, a);
  table.Forget(a, 1);
  EXPECT_NE(table.Get(a), nullptr);
  table.Forget(a, 1);
  EXPECT_EQ(table.Get(a), nullptr);
}

TEST(NodeTableTest, ReusedSlotsGetANewGeneration) {
  NodeTable table(MakeInode(2));
  const uint64_t a = table.LookupOrInsert(InodeKey{10, 1, 1}, [] { return MakeInode(10); });
  table.Forget(a, 1);
  const uint64_t b = table.LookupOrInsert(InodeKey{11, 1, 1}, [] { return MakeInode(11); });
  EXPECT_EQ(a & 0xffffffff, b & 0xffffffff);
  EXPECT_NE(a, b);
  EXPECT_EQ(table.Get(a), nullptr);
  table.Forget(a, 1);  // A stale forget does not touch the new node.
  EXPECT_NE(table.Get(b), nullptr);
}

TEST(NodeTableTest, ForgetAllKeepsOnlyTheRoot) {
  NodeTable table(MakeInode(2));
  const uint64_t a = table.LookupOrInsert(InodeKey{10, 1, 1}, [] { return MakeInode(10); });
  table.LookupOrInsert(InodeKey{10, 1, 1}, [] { return MakeInode(10); });
  const uint64_t b = table.LookupOrInsert(InodeKey{11, 1, 1}, [] { return MakeInode(11); });
  table.ForgetAll();
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Get(a), nullptr);
  EXPECT_EQ(table.Get(b), nullptr);
  EXPECT_NE(table.Get(NodeTable::kRootId), nullptr);
  // The key is free again: a new lookup makes a new node with a new id.
  const uint64_t again = table.LookupOrInsert(InodeKey{10, 1, 1}, [] { return MakeInode(10); });
  EXPECT_NE(again, 0u);
  EXPECT_NE(again, a);
  EXPECT_NE(table.Get(again), nullptr);
}

TEST(NodeTableTest, ForgedIdsFindNothing) {
  NodeTable table(MakeInode(2));
  for (uint64_t id :
       {uint64_t{0}, uint64_t{2}, uint64_t{1} << 32 | 1, ~uint64_t{0}, uint64_t{0xffffffff}}) {
    EXPECT_EQ(table.Get(id), nullptr) << id;
    table.Forget(id, 1);
  }
}

TEST(NodeTableTest, AFailedMakeInsertsNothing) {
  NodeTable table(MakeInode(2));
  EXPECT_EQ(table.LookupOrInsert(InodeKey{10, 1, 1}, [] { return std::shared_ptr<Inode>(); }), 0u);
  EXPECT_EQ(table.size(), 1u);
}

TEST(FdBudgetTest, TokensReturnWhenDropped) {
  FdBudget budget(2);
  std::optional<FdToken> a = budget.Take();
  std::optional<FdToken> b = budget.Take();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(budget.Take());
  a.reset();
  EXPECT_TRUE(budget.Take());
  EXPECT_EQ(budget.used(), 1);
}

}  // namespace
}  // namespace virtiofsd
