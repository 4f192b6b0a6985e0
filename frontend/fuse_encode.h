// Pure conversions from broker replies (proto/broker.proto) to the FUSE reply
// structs of /usr/include/linux/fuse.h, including the dirent packing of READDIR and
// READDIRPLUS. No I/O; every function is safe on any input.

#ifndef VIRTIOFSD_FRONTEND_FUSE_ENCODE_H_
#define VIRTIOFSD_FRONTEND_FUSE_ENCODE_H_

#include <linux/fuse.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/broker.pb.h"

namespace virtiofsd {

fuse_attr ToFuseAttr(const proto::Attr& attr);

// An entry reply valid for `timeout_seconds` (entry and attributes alike).
fuse_entry_out ToEntryOut(const proto::Entry& entry, uint64_t timeout_seconds);

// Bytes one entry named `name_length` takes in a READDIR (or READDIRPLUS) reply.
size_t DirentSize(size_t name_length, bool plus);

// Appends `entry` to `out` if it fits within `max_bytes` in total; returns false
// (appending nothing) when it does not, or when the name is empty or too long.
bool AppendDirent(const proto::DirEntry& entry, bool plus, uint64_t timeout_seconds,
                  size_t max_bytes, std::string& out);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_ENCODE_H_
