#include "tests/driver/fuse_client.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace virtiofsd::driver {
namespace {

std::string Name(absl::string_view name) { return absl::StrCat(name, absl::string_view("\0", 1)); }

template <typename T>
T FromBytes(absl::string_view bytes) {
  T value{};
  memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof(T)));
  return value;
}

}  // namespace

std::string FuseClient::OpName(uint32_t opcode) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {FUSE_LOOKUP, "LOOKUP"},
      {FUSE_FORGET, "FORGET"},
      {FUSE_GETATTR, "GETATTR"},
      {FUSE_SETATTR, "SETATTR"},
      {FUSE_READLINK, "READLINK"},
      {FUSE_SYMLINK, "SYMLINK"},
      {FUSE_MKNOD, "MKNOD"},
      {FUSE_MKDIR, "MKDIR"},
      {FUSE_UNLINK, "UNLINK"},
      {FUSE_RMDIR, "RMDIR"},
      {FUSE_RENAME, "RENAME"},
      {FUSE_LINK, "LINK"},
      {FUSE_OPEN, "OPEN"},
      {FUSE_READ, "READ"},
      {FUSE_WRITE, "WRITE"},
      {FUSE_STATFS, "STATFS"},
      {FUSE_RELEASE, "RELEASE"},
      {FUSE_FSYNC, "FSYNC"},
      {FUSE_SETXATTR, "SETXATTR"},
      {FUSE_GETXATTR, "GETXATTR"},
      {FUSE_LISTXATTR, "LISTXATTR"},
      {FUSE_REMOVEXATTR, "REMOVEXATTR"},
      {FUSE_FLUSH, "FLUSH"},
      {FUSE_INIT, "INIT"},
      {FUSE_OPENDIR, "OPENDIR"},
      {FUSE_READDIR, "READDIR"},
      {FUSE_RELEASEDIR, "RELEASEDIR"},
      {FUSE_FSYNCDIR, "FSYNCDIR"},
      {FUSE_ACCESS, "ACCESS"},
      {FUSE_CREATE, "CREATE"},
      {FUSE_DESTROY, "DESTROY"},
      {FUSE_BATCH_FORGET, "BATCH_FORGET"},
      {FUSE_FALLOCATE, "FALLOCATE"},
      {FUSE_READDIRPLUS, "READDIRPLUS"},
      {FUSE_RENAME2, "RENAME2"},
      {FUSE_LSEEK, "LSEEK"},
      {FUSE_COPY_FILE_RANGE, "COPY_FILE_RANGE"},
  };
  for (const auto& [code, name] : kNames) {
    if (code == opcode) return absl::StrCat("FUSE_", name);
  }
  return absl::StrCat("FUSE_OPCODE_", opcode);
}

void FuseClient::SetCaller(uint32_t uid, uint32_t gid, uint32_t pid) {
  uid_ = uid;
  gid_ = gid;
  pid_ = pid;
}

absl::StatusOr<uint64_t> FuseClient::Start(uint32_t opcode, uint64_t nodeid,
                                           std::vector<std::string> in_args,
                                           std::optional<uint32_t> reply_size,
                                           const FuseCallOptions& options) {
  const uint64_t unique = next_unique_;
  fuse_in_header header{};
  header.len = sizeof(header);
  for (const std::string& arg : in_args) header.len += arg.size();
  header.opcode = opcode;
  header.unique = unique;
  header.nodeid = nodeid;
  header.uid = uid_;
  header.gid = gid_;
  header.pid = pid_;
  DeviceRequest request;
  request.readable.push_back(AsBytes(header));
  for (std::string& arg : in_args) {
    if (!arg.empty()) request.readable.push_back(std::move(arg));
  }
  if (reply_size.has_value()) {
    request.writable.push_back(sizeof(fuse_out_header));
    if (*reply_size > 0) request.writable.push_back(*reply_size);
  }
  VFSD_ASSIGN_OR_RETURN(uint64_t ticket, driver_->Post(options.queue, request, options.post));
  next_unique_ += 2;
  pending_[unique] = Pending{opcode, reply_size.has_value(), ticket};
  unique_of_ticket_[ticket] = unique;
  return unique;
}

absl::StatusOr<FuseReply> FuseClient::Check(uint64_t unique, const Pending& pending,
                                            DeviceCompletion completion) {
  const std::string op = OpName(pending.opcode);
  FuseReply reply;
  if (!pending.has_reply) {
    if (completion.used_len != 0) {
      return absl::DataLossError(
          absl::StrFormat("%s has no reply, device wrote %d bytes", op, completion.used_len));
    }
    return reply;
  }
  if (completion.written.size() < sizeof(fuse_out_header) ||
      completion.written.size() != completion.used_len) {
    return absl::DataLossError(absl::StrFormat("%s: used length %d, %d bytes of room written", op,
                                               completion.used_len, completion.written.size()));
  }
  memcpy(&reply.header, completion.written.data(), sizeof(reply.header));
  reply.body = std::move(completion.written);
  reply.body.erase(0, sizeof(fuse_out_header));
  if (reply.header.unique != unique) {
    return absl::DataLossError(
        absl::StrFormat("%s %d answered with unique %d", op, unique, reply.header.unique));
  }
  if (reply.header.len != completion.used_len) {
    return absl::DataLossError(absl::StrFormat("%s: out header len %d, used length %d", op,
                                               reply.header.len, completion.used_len));
  }
  if (reply.header.error > 0 || reply.header.error <= -4096) {
    return absl::DataLossError(absl::StrFormat("%s: error %d", op, reply.header.error));
  }
  if (reply.header.error != 0 && !reply.body.empty()) {
    return absl::DataLossError(absl::StrFormat("%s: error %d with a %d-byte body", op,
                                               reply.header.error, reply.body.size()));
  }
  return reply;
}

absl::StatusOr<FuseReply> FuseClient::Await(uint64_t unique) {
  auto it = pending_.find(unique);
  if (it == pending_.end()) {
    return absl::NotFoundError(absl::StrFormat("request %d is not in flight", unique));
  }
  const Pending pending = it->second;
  VFSD_ASSIGN_OR_RETURN(DeviceCompletion completion, driver_->Wait(pending.ticket));
  pending_.erase(unique);
  unique_of_ticket_.erase(pending.ticket);
  return Check(unique, pending, std::move(completion));
}

absl::StatusOr<std::pair<uint64_t, FuseReply>> FuseClient::AwaitAny() {
  VFSD_ASSIGN_OR_RETURN(auto done, driver_->WaitAny());
  auto it = unique_of_ticket_.find(done.first);
  if (it == unique_of_ticket_.end()) {
    return absl::NotFoundError("a chain this client did not post completed");
  }
  const uint64_t unique = it->second;
  unique_of_ticket_.erase(it);
  const Pending pending = pending_[unique];
  pending_.erase(unique);
  VFSD_ASSIGN_OR_RETURN(FuseReply reply, Check(unique, pending, std::move(done.second)));
  return std::make_pair(unique, std::move(reply));
}

absl::StatusOr<FuseReply> FuseClient::Call(uint32_t opcode, uint64_t nodeid,
                                           std::vector<std::string> in_args,
                                           std::optional<uint32_t> reply_size) {
  VFSD_ASSIGN_OR_RETURN(uint64_t unique, Start(opcode, nodeid, std::move(in_args), reply_size));
  return Await(unique);
}

absl::StatusOr<std::string> FuseClient::CallOk(uint32_t opcode, uint64_t nodeid,
                                               std::vector<std::string> in_args, uint32_t body_size,
                                               bool exact) {
  VFSD_ASSIGN_OR_RETURN(FuseReply reply, Call(opcode, nodeid, std::move(in_args), body_size));
  if (reply.error() != 0) return ErrnoError(reply.error(), OpName(opcode));
  if (exact ? reply.body.size() != body_size : reply.body.size() > body_size) {
    return absl::DataLossError(absl::StrFormat("%s: %d-byte body, %s%d expected", OpName(opcode),
                                               reply.body.size(), exact ? "" : "at most ",
                                               body_size));
  }
  return std::move(reply.body);
}

template <typename T>
absl::StatusOr<T> FuseClient::CallStruct(uint32_t opcode, uint64_t nodeid,
                                         std::vector<std::string> in_args) {
  VFSD_ASSIGN_OR_RETURN(std::string body, CallOk(opcode, nodeid, std::move(in_args), sizeof(T)));
  return FromBytes<T>(body);
}

absl::Status FuseClient::CallEmpty(uint32_t opcode, uint64_t nodeid,
                                   std::vector<std::string> in_args) {
  return CallOk(opcode, nodeid, std::move(in_args), 0).status();
}

absl::StatusOr<fuse_init_out> FuseClient::Init(uint32_t flags, uint32_t flags2,
                                               uint32_t max_readahead) {
  fuse_init_in in{};
  in.major = FUSE_KERNEL_VERSION;
  in.minor = FUSE_KERNEL_MINOR_VERSION;
  in.max_readahead = max_readahead;
  in.flags = flags;
  in.flags2 = flags2;
  // Daemons of older minors answer with a shorter fuse_init_out.
  VFSD_ASSIGN_OR_RETURN(std::string body,
                        CallOk(FUSE_INIT, 0, {AsBytes(in)}, sizeof(fuse_init_out), false));
  if (body.size() < FUSE_COMPAT_22_INIT_OUT_SIZE) {
    return absl::DataLossError(absl::StrFormat("FUSE_INIT: %d-byte body", body.size()));
  }
  init_out_ = FromBytes<fuse_init_out>(body);
  return init_out_;
}

absl::Status FuseClient::Destroy() { return CallEmpty(FUSE_DESTROY, 0, {}); }

absl::StatusOr<fuse_entry_out> FuseClient::Lookup(uint64_t parent, absl::string_view name) {
  return CallStruct<fuse_entry_out>(FUSE_LOOKUP, parent, {Name(name)});
}

absl::Status FuseClient::Forget(uint64_t nodeid, uint64_t nlookup) {
  fuse_forget_in in{nlookup};
  FuseCallOptions hiprio = options_;
  hiprio.queue = 0;
  VFSD_ASSIGN_OR_RETURN(uint64_t unique,
                        Start(FUSE_FORGET, nodeid, {AsBytes(in)}, std::nullopt, hiprio));
  return Await(unique).status();
}

absl::Status FuseClient::BatchForget(const std::vector<fuse_forget_one>& forgets) {
  fuse_batch_forget_in in{static_cast<uint32_t>(forgets.size()), 0};
  std::string list(reinterpret_cast<const char*>(forgets.data()),
                   forgets.size() * sizeof(fuse_forget_one));
  FuseCallOptions hiprio = options_;
  hiprio.queue = 0;
  VFSD_ASSIGN_OR_RETURN(uint64_t unique,
                        Start(FUSE_BATCH_FORGET, 0, {AsBytes(in), list}, std::nullopt, hiprio));
  return Await(unique).status();
}

absl::StatusOr<fuse_attr_out> FuseClient::Getattr(uint64_t nodeid, std::optional<uint64_t> fh) {
  fuse_getattr_in in{};
  if (fh.has_value()) {
    in.getattr_flags = FUSE_GETATTR_FH;
    in.fh = *fh;
  }
  return CallStruct<fuse_attr_out>(FUSE_GETATTR, nodeid, {AsBytes(in)});
}

absl::StatusOr<fuse_attr_out> FuseClient::Setattr(uint64_t nodeid, const fuse_setattr_in& in) {
  return CallStruct<fuse_attr_out>(FUSE_SETATTR, nodeid, {AsBytes(in)});
}

absl::StatusOr<std::string> FuseClient::Readlink(uint64_t nodeid) {
  return CallOk(FUSE_READLINK, nodeid, {}, 4096, false);
}

absl::StatusOr<fuse_entry_out> FuseClient::Symlink(uint64_t parent, absl::string_view name,
                                                   absl::string_view target) {
  return CallStruct<fuse_entry_out>(FUSE_SYMLINK, parent, {Name(name), Name(target)});
}

absl::StatusOr<fuse_entry_out> FuseClient::Mknod(uint64_t parent, absl::string_view name,
                                                 uint32_t mode, uint32_t rdev, uint32_t umask) {
  fuse_mknod_in in{mode, rdev, umask, 0};
  return CallStruct<fuse_entry_out>(FUSE_MKNOD, parent, {AsBytes(in), Name(name)});
}

absl::StatusOr<fuse_entry_out> FuseClient::Mkdir(uint64_t parent, absl::string_view name,
                                                 uint32_t mode, uint32_t umask) {
  fuse_mkdir_in in{mode, umask};
  return CallStruct<fuse_entry_out>(FUSE_MKDIR, parent, {AsBytes(in), Name(name)});
}

absl::Status FuseClient::Unlink(uint64_t parent, absl::string_view name) {
  return CallEmpty(FUSE_UNLINK, parent, {Name(name)});
}

absl::Status FuseClient::Rmdir(uint64_t parent, absl::string_view name) {
  return CallEmpty(FUSE_RMDIR, parent, {Name(name)});
}

absl::Status FuseClient::Rename(uint64_t parent, absl::string_view name, uint64_t new_parent,
                                absl::string_view new_name) {
  fuse_rename_in in{new_parent};
  return CallEmpty(FUSE_RENAME, parent, {AsBytes(in), Name(name), Name(new_name)});
}

absl::Status FuseClient::Rename2(uint64_t parent, absl::string_view name, uint64_t new_parent,
                                 absl::string_view new_name, uint32_t flags) {
  fuse_rename2_in in{new_parent, flags, 0};
  return CallEmpty(FUSE_RENAME2, parent, {AsBytes(in), Name(name), Name(new_name)});
}

absl::StatusOr<fuse_entry_out> FuseClient::Link(uint64_t nodeid, uint64_t new_parent,
                                                absl::string_view new_name) {
  fuse_link_in in{nodeid};
  return CallStruct<fuse_entry_out>(FUSE_LINK, new_parent, {AsBytes(in), Name(new_name)});
}

absl::StatusOr<fuse_open_out> FuseClient::Open(uint64_t nodeid, uint32_t flags) {
  fuse_open_in in{flags, 0};
  return CallStruct<fuse_open_out>(FUSE_OPEN, nodeid, {AsBytes(in)});
}

absl::StatusOr<CreateReply> FuseClient::Create(uint64_t parent, absl::string_view name,
                                               uint32_t flags, uint32_t mode, uint32_t umask) {
  fuse_create_in in{flags, mode, umask, 0};
  VFSD_ASSIGN_OR_RETURN(std::string body, CallOk(FUSE_CREATE, parent, {AsBytes(in), Name(name)},
                                                 sizeof(fuse_entry_out) + sizeof(fuse_open_out)));
  return CreateReply{
      FromBytes<fuse_entry_out>(body),
      FromBytes<fuse_open_out>(absl::string_view(body).substr(sizeof(fuse_entry_out)))};
}

absl::StatusOr<std::string> FuseClient::Read(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                             uint32_t size) {
  fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  return CallOk(FUSE_READ, nodeid, {AsBytes(in)}, size, false);
}

absl::StatusOr<uint32_t> FuseClient::Write(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                           absl::string_view data, uint32_t write_flags) {
  fuse_write_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = data.size();
  in.write_flags = write_flags;
  VFSD_ASSIGN_OR_RETURN(
      fuse_write_out out,
      CallStruct<fuse_write_out>(FUSE_WRITE, nodeid, {AsBytes(in), std::string(data)}));
  return out.size;
}

absl::Status FuseClient::Release(uint64_t nodeid, uint64_t fh, uint32_t flags) {
  fuse_release_in in{};
  in.fh = fh;
  in.flags = flags;
  return CallEmpty(FUSE_RELEASE, nodeid, {AsBytes(in)});
}

absl::Status FuseClient::Flush(uint64_t nodeid, uint64_t fh, uint64_t lock_owner) {
  fuse_flush_in in{};
  in.fh = fh;
  in.lock_owner = lock_owner;
  return CallEmpty(FUSE_FLUSH, nodeid, {AsBytes(in)});
}

absl::Status FuseClient::Fsync(uint64_t nodeid, uint64_t fh, bool datasync) {
  fuse_fsync_in in{fh, datasync ? 1u : 0u, 0};
  return CallEmpty(FUSE_FSYNC, nodeid, {AsBytes(in)});
}

absl::StatusOr<fuse_open_out> FuseClient::Opendir(uint64_t nodeid, uint32_t flags) {
  fuse_open_in in{flags, 0};
  return CallStruct<fuse_open_out>(FUSE_OPENDIR, nodeid, {AsBytes(in)});
}

absl::StatusOr<std::vector<DirEntry>> FuseClient::ReaddirCommon(uint32_t opcode, uint64_t nodeid,
                                                                uint64_t fh, uint64_t offset,
                                                                uint32_t size) {
  fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  VFSD_ASSIGN_OR_RETURN(std::string body, CallOk(opcode, nodeid, {AsBytes(in)}, size, false));
  const bool plus = opcode == FUSE_READDIRPLUS;
  const size_t fixed = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
  std::vector<DirEntry> entries;
  size_t pos = 0;
  while (pos < body.size()) {
    absl::string_view rest = absl::string_view(body).substr(pos);
    if (rest.size() < fixed) return absl::DataLossError(OpName(opcode) + ": truncated entry");
    DirEntry entry;
    if (plus) entry.entry = FromBytes<fuse_entry_out>(rest);
    const auto dirent = FromBytes<fuse_dirent>(rest.substr(fixed - FUSE_NAME_OFFSET));
    if (dirent.namelen == 0 || dirent.namelen > rest.size() - fixed) {
      return absl::DataLossError(OpName(opcode) + ": bad name length");
    }
    entry.ino = dirent.ino;
    entry.off = dirent.off;
    entry.type = dirent.type;
    entry.name = std::string(rest.substr(fixed, dirent.namelen));
    entries.push_back(std::move(entry));
    pos += FUSE_DIRENT_ALIGN(fixed + dirent.namelen);
  }
  return entries;
}

absl::StatusOr<std::vector<DirEntry>> FuseClient::Readdir(uint64_t nodeid, uint64_t fh,
                                                          uint64_t offset, uint32_t size) {
  return ReaddirCommon(FUSE_READDIR, nodeid, fh, offset, size);
}

absl::StatusOr<std::vector<DirEntry>> FuseClient::Readdirplus(uint64_t nodeid, uint64_t fh,
                                                              uint64_t offset, uint32_t size) {
  return ReaddirCommon(FUSE_READDIRPLUS, nodeid, fh, offset, size);
}

absl::Status FuseClient::Releasedir(uint64_t nodeid, uint64_t fh) {
  fuse_release_in in{};
  in.fh = fh;
  return CallEmpty(FUSE_RELEASEDIR, nodeid, {AsBytes(in)});
}

absl::Status FuseClient::Fsyncdir(uint64_t nodeid, uint64_t fh, bool datasync) {
  fuse_fsync_in in{fh, datasync ? 1u : 0u, 0};
  return CallEmpty(FUSE_FSYNCDIR, nodeid, {AsBytes(in)});
}

absl::StatusOr<fuse_statfs_out> FuseClient::Statfs(uint64_t nodeid) {
  return CallStruct<fuse_statfs_out>(FUSE_STATFS, nodeid, {});
}

absl::Status FuseClient::Access(uint64_t nodeid, uint32_t mask) {
  fuse_access_in in{mask, 0};
  return CallEmpty(FUSE_ACCESS, nodeid, {AsBytes(in)});
}

absl::Status FuseClient::Setxattr(uint64_t nodeid, absl::string_view name, absl::string_view value,
                                  uint32_t flags) {
  fuse_setxattr_in in{};
  in.size = value.size();
  in.flags = flags;
  std::string header = AsBytes(in);
  if ((init_out_.flags & FUSE_SETXATTR_EXT) == 0) header.resize(FUSE_COMPAT_SETXATTR_IN_SIZE);
  return CallEmpty(FUSE_SETXATTR, nodeid, {header, Name(name), std::string(value)});
}

absl::StatusOr<uint32_t> FuseClient::GetxattrSize(uint64_t nodeid, absl::string_view name) {
  fuse_getxattr_in in{0, 0};
  VFSD_ASSIGN_OR_RETURN(
      fuse_getxattr_out out,
      CallStruct<fuse_getxattr_out>(FUSE_GETXATTR, nodeid, {AsBytes(in), Name(name)}));
  return out.size;
}

absl::StatusOr<std::string> FuseClient::Getxattr(uint64_t nodeid, absl::string_view name,
                                                 uint32_t size) {
  fuse_getxattr_in in{size, 0};
  return CallOk(FUSE_GETXATTR, nodeid, {AsBytes(in), Name(name)}, size, false);
}

absl::StatusOr<uint32_t> FuseClient::ListxattrSize(uint64_t nodeid) {
  fuse_getxattr_in in{0, 0};
  VFSD_ASSIGN_OR_RETURN(fuse_getxattr_out out,
                        CallStruct<fuse_getxattr_out>(FUSE_LISTXATTR, nodeid, {AsBytes(in)}));
  return out.size;
}

absl::StatusOr<std::string> FuseClient::Listxattr(uint64_t nodeid, uint32_t size) {
  fuse_getxattr_in in{size, 0};
  return CallOk(FUSE_LISTXATTR, nodeid, {AsBytes(in)}, size, false);
}

absl::Status FuseClient::Removexattr(uint64_t nodeid, absl::string_view name) {
  return CallEmpty(FUSE_REMOVEXATTR, nodeid, {Name(name)});
}

absl::Status FuseClient::Fallocate(uint64_t nodeid, uint64_t fh, uint64_t offset, uint64_t length,
                                   uint32_t mode) {
  fuse_fallocate_in in{fh, offset, length, mode, 0};
  return CallEmpty(FUSE_FALLOCATE, nodeid, {AsBytes(in)});
}

absl::StatusOr<uint64_t> FuseClient::Lseek(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                           uint32_t whence) {
  fuse_lseek_in in{fh, offset, whence, 0};
  VFSD_ASSIGN_OR_RETURN(fuse_lseek_out out,
                        CallStruct<fuse_lseek_out>(FUSE_LSEEK, nodeid, {AsBytes(in)}));
  return out.offset;
}

absl::StatusOr<uint32_t> FuseClient::CopyFileRange(uint64_t nodeid_in, uint64_t fh_in,
                                                   uint64_t off_in, uint64_t nodeid_out,
                                                   uint64_t fh_out, uint64_t off_out, uint64_t len,
                                                   uint64_t flags) {
  fuse_copy_file_range_in in{fh_in, off_in, nodeid_out, fh_out, off_out, len, flags};
  VFSD_ASSIGN_OR_RETURN(fuse_write_out out,
                        CallStruct<fuse_write_out>(FUSE_COPY_FILE_RANGE, nodeid_in, {AsBytes(in)}));
  return out.size;
}

}  // namespace virtiofsd::driver
