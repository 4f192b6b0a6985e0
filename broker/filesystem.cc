#include "broker/filesystem.h"

#include <errno.h>

#include <optional>

#include "common/channel/operations.h"

namespace virtiofsd {
namespace {

using Op = proto::Request::OpCase;
using Handler = int (FileSystem::*)(const proto::Request&, Response&);

struct HandlerRow {
  Handler handler = nullptr;
  bool modifies = false;  // EROFS under --readonly.
};

// The handler of `op`'s row: FileSystem's member of the row's name, or none for
// the rows the Server answers (and for an op without a row). `&Fs::name` depends
// on Fs, so it is looked up only for the rows FileSystem must serve: a row
// without a handler is a compile error here ("no member named ...").
HandlerRow HandlerOf(Op op) {
  switch (op) {
#define VIRTIOFSD_HANDLER_ROW(name, result, effect, pace)          \
  case Op::k##name:                                                \
    return {[]<typename Fs = FileSystem>()->Handler{               \
        if constexpr (ServedByServer(Op::k##name)) return nullptr; \
    else return &Fs::name;                                         \
    }                                                              \
    (), OpEffect::effect == OpEffect::kModifies                    \
    }                                                              \
    ;
    VIRTIOFSD_BROKER_OPERATIONS(VIRTIOFSD_HANDLER_ROW)
#undef VIRTIOFSD_HANDLER_ROW
    default:
      return {};
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileSystem>> FileSystem::Create(UniqueFd shared_dir,
                                                               UniqueFd proc_self_fd,
                                                               FsConfig config) {
  absl::StatusOr<std::unique_ptr<InodeStore>> store =
      InodeStore::Create(std::move(shared_dir), std::move(proc_self_fd), std::move(config));
  if (!store.ok()) return store.status();
  return std::unique_ptr<FileSystem>(new FileSystem(*std::move(store)));
}

// The families keep a reference to the store, which lives on the heap: it stays
// where it is when `store_` takes it over below.
FileSystem::FileSystem(std::unique_ptr<InodeStore> store)
    : EntryOps(*store),
      FileOps(*store),
      DirOps(*store),
      XattrOps(*store),
      LockOps(*store),
      store_(std::move(store)) {}

int FileSystem::Handle(const proto::Request& request, Response& response) {
  const HandlerRow row = HandlerOf(request.op_case());
  if (row.handler == nullptr) return ENOSYS;
  if (row.modifies && store_->config().readonly) return EROFS;
  const int err = (this->*row.handler)(request, response);
  // The broker's own fd limit is no guest error: the system ran out of files.
  return err == EMFILE ? ENFILE : err;
}

int FileSystem::CallerToHost(proto::Caller& caller) const {
  const FsConfig& config = store_->config();
  std::optional<uint32_t> uid = config.uids.ToHost(caller.uid());
  std::optional<uint32_t> gid = config.gids.ToHost(caller.gid());
  if (!uid || !gid) return EPERM;  // forbid-guest (Rust: PermissionDenied)
  caller.set_uid(*uid);
  caller.set_gid(*gid);
  return 0;
}

}  // namespace virtiofsd
