// The handlers of open files: OPEN, CREATE, TMPFILE, RELEASE, FLUSH, FSYNC,
// FALLOCATE, LSEEK, COPY_FILE_RANGE and SYNCFS.
//
// OPEN opens only regular files (CVE-2020-35517), CREATE opens only a regular
// file it made or found, and the guest's open flags pass an allow-list
// (O_DIRECT only with --allow-direct-io, O_NOATIME only with
// --preserve-noatime; --writeback turns write-only into read-write without
// O_APPEND). The open file's fd goes to the frontend with the reply
// (Response::handle) and stays held here until RELEASE. Opening for writing,
// FALLOCATE and COPY_FILE_RANGE clear the remapped security.capability.
//
// Runs on the caller's credentials (Server switched them). Thread-safe.

#ifndef VIRTIOFSD_BROKER_FILE_OPS_H_
#define VIRTIOFSD_BROKER_FILE_OPS_H_

#include <cstdint>

#include "broker/inode_store.h"
#include "broker/response.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

class FileOps {
 public:
  // `store` must outlive this.
  explicit FileOps(InodeStore& store) : store_(store) {}

  // Each returns 0 (result in `response`) or a positive errno.
  int Open(const proto::Request& request, Response& response);  // EROFS for writes, read-only.
  int Create(const proto::Request& request, Response& response);
  int Tmpfile(const proto::Request& request, Response& response);
  // Also drops the handle's flock (FUSE_RELEASE_FLOCK_UNLOCK) and, with
  // RELEASE_FLUSH, the lock owner's POSIX locks.
  int Release(const proto::Request& request, Response& response);
  // Drops the lock owner's POSIX locks, and closes a duplicate of the fd so the
  // host filesystem reports write-back errors as close() would.
  int Flush(const proto::Request& request, Response& response);
  int Fsync(const proto::Request& request, Response& response);
  int Fallocate(const proto::Request& request, Response& response);
  int Lseek(const proto::Request& request, Response& response);
  int CopyFileRange(const proto::Request& request, Response& response);
  int Syncfs(const proto::Request& request, Response& response);

 private:
  // Open flags from the guest, masked by the allow-list and --writeback, or
  // -EINVAL.
  int GuestOpenFlags(uint32_t flags) const;

  InodeStore& store_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_FILE_OPS_H_
