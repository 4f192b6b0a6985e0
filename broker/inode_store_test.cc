// The inode store on its own: ids from the frontend and their errnos, lookups
// that take one reference each, the fd budget, and reopening held inodes (only
// regular files and directories).

#include "broker/inode_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "broker/testing/test_broker.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

class InodeStoreTest : public ::testing::Test {
 protected:
  void Start(FsConfig config = {}) {
    UniqueFd shared(open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    absl::StatusOr<std::unique_ptr<InodeStore>> store =
        InodeStore::Create(std::move(shared), std::move(proc), std::move(config));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Touch(const std::string& name) {
    UniqueFd fd(open(tmp_.Path(name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid()) << name;
  }
  uint64_t Lookup(const char* name) {
    proto::Entry entry;
    EXPECT_EQ(store_->MakeEntry(*store_->root(), name, &entry), 0) << name;
    return entry.node();
  }

  testing::TempDir tmp_;
  std::unique_ptr<InodeStore> store_;
};

TEST_F(InodeStoreTest, UnknownIdsGetTheirErrno) {
  Start();
  std::shared_ptr<Inode> inode;
  std::shared_ptr<OpenHandle> handle;
  EXPECT_EQ(store_->GetNode(NodeTable::kRootId, inode), 0);
  EXPECT_EQ(store_->GetDir(NodeTable::kRootId, inode), 0);
  EXPECT_EQ(store_->GetNode(0, inode), ESTALE);
  EXPECT_EQ(store_->GetNode(12345, inode), ESTALE);
  EXPECT_EQ(store_->GetFile(0, handle), EBADF);
  EXPECT_EQ(store_->GetDirHandle(7, handle), EBADF);
  HeldNode held;
  EXPECT_EQ(store_->GetHeldNode(99, held), ESTALE);
  ASSERT_EQ(store_->GetHeldNode(NodeTable::kRootId, held), 0);
  EXPECT_GE(held.fd, 0);
}

TEST_F(InodeStoreTest, EachLookupTakesOneReferenceOnOneNode) {
  Touch("f");
  Start();
  const uint64_t id = Lookup("f");
  ASSERT_NE(id, 0u);
  EXPECT_EQ(Lookup("f"), id);
  EXPECT_EQ(store_->node_count(), 2u);
  std::shared_ptr<Inode> inode;
  EXPECT_EQ(store_->GetDir(id, inode), ENOTDIR);
  store_->nodes().Forget(id, 1);
  EXPECT_EQ(store_->GetNode(id, inode), 0);
  store_->nodes().Forget(id, 1);
  EXPECT_EQ(store_->GetNode(id, inode), ESTALE);
  EXPECT_EQ(store_->node_count(), 1u);
  proto::Entry entry;
  EXPECT_EQ(store_->MakeEntry(*store_->root(), "missing", &entry), ENOENT);
}

TEST_F(InodeStoreTest, TheFdBudgetEndsInEnfile) {
  Touch("a");
  Touch("b");
  FsConfig config;
  config.fd_budget = 1;
  Start(std::move(config));
  ASSERT_NE(Lookup("a"), 0u);
  proto::Entry entry;
  EXPECT_EQ(store_->MakeEntry(*store_->root(), "b", &entry), ENFILE);
  EXPECT_FALSE(store_->TakeFdToken().has_value());
  Response response;
  uint64_t handle_id;
  EXPECT_EQ(store_->AddFileHandle(UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC)), store_->root(),
                                  response, handle_id),
            ENFILE);
}

TEST_F(InodeStoreTest, ReopensOnlyRegularFilesAndDirectories) {
  Touch("f");
  ASSERT_EQ(symlink("f", tmp_.Path("link").c_str()), 0);
  ASSERT_EQ(mkfifo(tmp_.Path("fifo").c_str(), 0644), 0);
  Start();
  std::shared_ptr<Inode> file, link, fifo;
  ASSERT_EQ(store_->GetNode(Lookup("f"), file), 0);
  ASSERT_EQ(store_->GetNode(Lookup("link"), link), 0);
  ASSERT_EQ(store_->GetNode(Lookup("fifo"), fifo), 0);
  EXPECT_EQ(link->type, S_IFLNK);  // The link itself, never its target.
  UniqueFd fd;
  EXPECT_EQ(store_->Reopen(*file, O_RDWR, fd), 0);
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_ACCMODE, O_RDWR);
  EXPECT_EQ(store_->Reopen(*store_->root(), O_RDONLY, fd), 0);
  EXPECT_EQ(store_->Reopen(*link, O_RDONLY, fd), EACCES);
  EXPECT_EQ(store_->Reopen(*fifo, O_RDONLY, fd), EACCES);
  // A file handle held open for the guest is a file handle, not a directory one.
  Response response;
  uint64_t handle_id;
  UniqueFd open_file;
  ASSERT_EQ(store_->Reopen(*file, O_RDONLY, open_file), 0);
  ASSERT_EQ(store_->AddFileHandle(std::move(open_file), file, response, handle_id), 0);
  std::shared_ptr<OpenHandle> handle;
  EXPECT_EQ(store_->GetFile(handle_id, handle), 0);
  EXPECT_EQ(store_->GetDirHandle(handle_id, handle), EBADF);
}

}  // namespace
}  // namespace virtiofsd
