// FileSystem's dispatch against the table of operations (common/channel/operations.h):
// every row the Server does not answer has a handler here (nothing is silently
// ENOSYS), and a read-only share refuses exactly the rows whose Effect is
// kModifies, before their handler runs.

#include "broker/filesystem.h"

#include <errno.h>
#include <fcntl.h>

#include <memory>

#include "broker/testing/test_broker.h"
#include "common/channel/operations.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// A request of `op` with every field at its default (ids 0, empty names).
proto::Request EmptyRequest(proto::Request::OpCase op) {
  proto::Request request;
  const google::protobuf::FieldDescriptor* field =
      proto::Request::descriptor()->FindFieldByNumber(op);
  EXPECT_NE(field, nullptr) << op;
  if (field != nullptr) request.GetReflection()->MutableMessage(&request, field);
  EXPECT_EQ(request.op_case(), op);
  return request;
}

std::unique_ptr<FileSystem> MakeFileSystem(const std::string& dir, FsConfig config) {
  UniqueFd shared(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
  absl::StatusOr<std::unique_ptr<FileSystem>> fs =
      FileSystem::Create(std::move(shared), std::move(proc), std::move(config));
  EXPECT_TRUE(fs.ok()) << fs.status();
  return fs.ok() ? *std::move(fs) : nullptr;
}

TEST(FileSystemTest, EveryRowTheServerDoesNotAnswerHasAHandler) {
  testing::TempDir tmp;
  FsConfig config;
  config.xattr = true;  // Else the xattr handlers answer ENOSYS on purpose.
  std::unique_ptr<FileSystem> fs = MakeFileSystem(tmp.path(), std::move(config));
  ASSERT_NE(fs, nullptr);
  for (const OperationRule& rule : kOperations) {
    proto::Request request = EmptyRequest(rule.op);
    Response response;
    const int err = fs->Handle(request, response);
    if (ServedByServer(rule.op)) {
      EXPECT_EQ(err, ENOSYS) << "op " << rule.op << " is the server's";
    } else {
      EXPECT_NE(err, ENOSYS) << "op " << rule.op << " has no FileSystem handler";
    }
  }
  Response response;
  EXPECT_EQ(fs->Handle(proto::Request(), response), ENOSYS);  // No op at all.
}

TEST(FileSystemTest, AReadOnlyShareRefusesExactlyTheRowsThatModify) {
  testing::TempDir tmp;
  FsConfig config;
  config.readonly = true;
  config.xattr = true;
  std::unique_ptr<FileSystem> fs = MakeFileSystem(tmp.path(), std::move(config));
  ASSERT_NE(fs, nullptr);
  for (const OperationRule& rule : kOperations) {
    if (ServedByServer(rule.op)) continue;
    proto::Request request = EmptyRequest(rule.op);
    Response response;
    const int err = fs->Handle(request, response);
    if (rule.effect == OpEffect::kModifies) {
      EXPECT_EQ(err, EROFS) << "op " << rule.op;
    } else {
      EXPECT_NE(err, EROFS) << "op " << rule.op;
    }
  }
}

}  // namespace
}  // namespace virtiofsd
