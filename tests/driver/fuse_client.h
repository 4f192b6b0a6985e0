// Typed FUSE requests over a VhostUserFsDriver, laid out as the Linux virtio-fs
// driver posts them: a device-readable fuse_in_header descriptor, one descriptor
// per in-argument (names are NUL-terminated, write data is its own buffer), then
// a device-writable fuse_out_header descriptor and one for the reply body.
//
// Every reply is checked: used length == fuse_out_header.len, the unique of the
// request, an error in (-4096, 0] carrying no body, the exact body size of the
// operation. Breaches are kDataLoss. A FUSE error becomes ErrnoError(errno,
// "FUSE_<OP>"), so tests write EXPECT_THAT(fuse.Lookup(1, "x"), HasErrno(ENOENT));
// transport failures keep the driver's codes (kDeadlineExceeded, kUnavailable).
//
// Start()/Await() give many requests in flight (matched by unique); the typed
// helpers are Start() + Await(). FORGET and BATCH_FORGET go to the hiprio queue 0
// and complete when the device returns the chain.
//
// Borrows the driver (which must outlive the client). Not thread-safe.

#ifndef VIRTIOFSD_TESTS_DRIVER_FUSE_CLIENT_H_
#define VIRTIOFSD_TESTS_DRIVER_FUSE_CLIENT_H_

#include <linux/fuse.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/driver/vhost_user_fs_driver.h"

namespace virtiofsd::driver {

// The bytes of a trivially copyable struct, for in-arguments.
template <typename T>
std::string AsBytes(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
}

// INIT flags a Linux 6.1 guest sends over virtio-fs (without DAX).
constexpr uint32_t kGuestInitFlags =
    FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
    FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_FLOCK_LOCKS | FUSE_HAS_IOCTL_DIR |
    FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |
    FUSE_WRITEBACK_CACHE | FUSE_NO_OPEN_SUPPORT | FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV |
    FUSE_POSIX_ACL | FUSE_ABORT_ERROR | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
    FUSE_NO_OPENDIR_SUPPORT | FUSE_EXPLICIT_INVAL_DATA | FUSE_HANDLE_KILLPRIV_V2 |
    FUSE_SETXATTR_EXT;

// A checked reply.
struct FuseReply {
  fuse_out_header header{};
  std::string body;                            // the bytes after the header
  int error() const { return -header.error; }  // 0 on success
};

// Where and how a request is posted.
struct FuseCallOptions {
  int queue = 1;  // 0 is hiprio; 1..N request queues
  PostOptions post;
};

struct DirEntry {
  uint64_t ino = 0;
  uint64_t off = 0;
  uint32_t type = 0;
  std::string name;
  std::optional<fuse_entry_out> entry;  // READDIRPLUS only
};

struct CreateReply {
  fuse_entry_out entry;
  fuse_open_out open;
};

class FuseClient {
 public:
  explicit FuseClient(VhostUserFsDriver* driver) : driver_(driver) {}

  // Caller identity put in every fuse_in_header (default uid 0, gid 0, pid 1).
  void SetCaller(uint32_t uid, uint32_t gid, uint32_t pid);
  // Queue and descriptor shape of the typed calls (default: queue 1, direct).
  void set_options(const FuseCallOptions& options) { options_ = options; }
  const FuseCallOptions& options() const { return options_; }
  // INIT's reply once Init() succeeded (zero before).
  const fuse_init_out& init_out() const { return init_out_; }

  // --- Raw requests --------------------------------------------------------
  // Posts `opcode` with `in_args` and room for `reply_size` body bytes; nullopt
  // means the request has no reply (the device just returns the chain). Returns
  // the request's unique.
  absl::StatusOr<uint64_t> Start(uint32_t opcode, uint64_t nodeid, std::vector<std::string> in_args,
                                 std::optional<uint32_t> reply_size,
                                 const FuseCallOptions& options);
  absl::StatusOr<uint64_t> Start(uint32_t opcode, uint64_t nodeid, std::vector<std::string> in_args,
                                 std::optional<uint32_t> reply_size) {
    return Start(opcode, nodeid, std::move(in_args), reply_size, options_);
  }
  // Waits for the reply of `unique` (checked as above; errors are not turned into
  // a status here: see FuseReply::error()). A no-reply request yields a zero reply.
  absl::StatusOr<FuseReply> Await(uint64_t unique);
  // Waits for whichever request completes first: {unique, reply}.
  absl::StatusOr<std::pair<uint64_t, FuseReply>> AwaitAny();
  // Start() + Await().
  absl::StatusOr<FuseReply> Call(uint32_t opcode, uint64_t nodeid, std::vector<std::string> in_args,
                                 std::optional<uint32_t> reply_size);

  // --- Typed requests ------------------------------------------------------
  // FUSE_INIT (7.FUSE_KERNEL_MINOR_VERSION); flags2 needs FUSE_INIT_EXT in flags.
  absl::StatusOr<fuse_init_out> Init(uint32_t flags = kGuestInitFlags, uint32_t flags2 = 0,
                                     uint32_t max_readahead = 128 << 10);
  absl::Status Destroy();
  absl::StatusOr<fuse_entry_out> Lookup(uint64_t parent, absl::string_view name);
  absl::Status Forget(uint64_t nodeid, uint64_t nlookup);
  absl::Status BatchForget(const std::vector<fuse_forget_one>& forgets);
  absl::StatusOr<fuse_attr_out> Getattr(uint64_t nodeid, std::optional<uint64_t> fh = {});
  absl::StatusOr<fuse_attr_out> Setattr(uint64_t nodeid, const fuse_setattr_in& in);
  absl::StatusOr<std::string> Readlink(uint64_t nodeid);
  absl::StatusOr<fuse_entry_out> Symlink(uint64_t parent, absl::string_view name,
                                         absl::string_view target);
  absl::StatusOr<fuse_entry_out> Mknod(uint64_t parent, absl::string_view name, uint32_t mode,
                                       uint32_t rdev = 0, uint32_t umask = 0);
  absl::StatusOr<fuse_entry_out> Mkdir(uint64_t parent, absl::string_view name, uint32_t mode,
                                       uint32_t umask = 0);
  absl::Status Unlink(uint64_t parent, absl::string_view name);
  absl::Status Rmdir(uint64_t parent, absl::string_view name);
  absl::Status Rename(uint64_t parent, absl::string_view name, uint64_t new_parent,
                      absl::string_view new_name);
  absl::Status Rename2(uint64_t parent, absl::string_view name, uint64_t new_parent,
                       absl::string_view new_name, uint32_t flags);
  absl::StatusOr<fuse_entry_out> Link(uint64_t nodeid, uint64_t new_parent,
                                      absl::string_view new_name);
  absl::StatusOr<fuse_open_out> Open(uint64_t nodeid, uint32_t flags);
  absl::StatusOr<CreateReply> Create(uint64_t parent, absl::string_view name, uint32_t flags,
                                     uint32_t mode, uint32_t umask = 0);
  // Returns the bytes read (the body may be shorter than `size`).
  absl::StatusOr<std::string> Read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size);
  // Returns the count the daemon reports written.
  absl::StatusOr<uint32_t> Write(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                 absl::string_view data, uint32_t write_flags = 0);
  absl::Status Release(uint64_t nodeid, uint64_t fh, uint32_t flags = 0);
  absl::Status Flush(uint64_t nodeid, uint64_t fh, uint64_t lock_owner = 0);
  absl::Status Fsync(uint64_t nodeid, uint64_t fh, bool datasync = false);
  absl::StatusOr<fuse_open_out> Opendir(uint64_t nodeid, uint32_t flags = 0);
  absl::StatusOr<std::vector<DirEntry>> Readdir(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                                uint32_t size = 4096);
  absl::StatusOr<std::vector<DirEntry>> Readdirplus(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                                    uint32_t size = 4096);
  absl::Status Releasedir(uint64_t nodeid, uint64_t fh);
  absl::Status Fsyncdir(uint64_t nodeid, uint64_t fh, bool datasync = false);
  absl::StatusOr<fuse_statfs_out> Statfs(uint64_t nodeid = FUSE_ROOT_ID);
  absl::Status Access(uint64_t nodeid, uint32_t mask);
  // fuse_setxattr_in is the long form when INIT agreed FUSE_SETXATTR_EXT.
  absl::Status Setxattr(uint64_t nodeid, absl::string_view name, absl::string_view value,
                        uint32_t flags = 0);
  // size 0 asks for the value's size (returned as a 4-byte little-endian string
  // by the raw path; here use GetxattrSize()).
  absl::StatusOr<uint32_t> GetxattrSize(uint64_t nodeid, absl::string_view name);
  absl::StatusOr<std::string> Getxattr(uint64_t nodeid, absl::string_view name, uint32_t size);
  absl::StatusOr<uint32_t> ListxattrSize(uint64_t nodeid);
  // NUL-separated names.
  absl::StatusOr<std::string> Listxattr(uint64_t nodeid, uint32_t size);
  absl::Status Removexattr(uint64_t nodeid, absl::string_view name);
  absl::Status Fallocate(uint64_t nodeid, uint64_t fh, uint64_t offset, uint64_t length,
                         uint32_t mode = 0);
  absl::StatusOr<uint64_t> Lseek(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t whence);
  absl::StatusOr<uint32_t> CopyFileRange(uint64_t nodeid_in, uint64_t fh_in, uint64_t off_in,
                                         uint64_t nodeid_out, uint64_t fh_out, uint64_t off_out,
                                         uint64_t len, uint64_t flags = 0);

  // The name of `opcode` ("FUSE_LOOKUP"), for messages.
  static std::string OpName(uint32_t opcode);

 private:
  struct Pending {
    uint32_t opcode;
    bool has_reply;
    uint64_t ticket;
  };
  absl::StatusOr<FuseReply> Check(uint64_t unique, const Pending& pending,
                                  DeviceCompletion completion);
  // Call() that turns a FUSE error into ErrnoError and checks the body size
  // (exactly `body_size` unless `at_most`).
  absl::StatusOr<std::string> CallOk(uint32_t opcode, uint64_t nodeid,
                                     std::vector<std::string> in_args, uint32_t body_size,
                                     bool exact = true);
  template <typename T>
  absl::StatusOr<T> CallStruct(uint32_t opcode, uint64_t nodeid, std::vector<std::string> in_args);
  absl::Status CallEmpty(uint32_t opcode, uint64_t nodeid, std::vector<std::string> in_args);
  absl::StatusOr<std::vector<DirEntry>> ReaddirCommon(uint32_t opcode, uint64_t nodeid, uint64_t fh,
                                                      uint64_t offset, uint32_t size);

  VhostUserFsDriver* driver_;
  FuseCallOptions options_;
  uint32_t uid_ = 0, gid_ = 0, pid_ = 1;
  uint64_t next_unique_ = 2;                       // Linux steps by 2; bit 0 marks interrupts
  std::map<uint64_t, Pending> pending_;            // unique -> request
  std::map<uint64_t, uint64_t> unique_of_ticket_;  // ticket -> unique
  fuse_init_out init_out_{};
};

}  // namespace virtiofsd::driver

#endif  // VIRTIOFSD_TESTS_DRIVER_FUSE_CLIENT_H_
