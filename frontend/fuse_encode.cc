#include "frontend/fuse_encode.h"

#include <limits.h>
#include <string.h>

namespace virtiofsd {

fuse_attr ToFuseAttr(const proto::Attr& attr) {
  fuse_attr out{};
  out.ino = attr.ino();
  out.size = attr.size();
  out.blocks = attr.blocks();
  out.atime = static_cast<uint64_t>(attr.atime());
  out.mtime = static_cast<uint64_t>(attr.mtime());
  out.ctime = static_cast<uint64_t>(attr.ctime());
  out.atimensec = attr.atime_nsec();
  out.mtimensec = attr.mtime_nsec();
  out.ctimensec = attr.ctime_nsec();
  out.mode = attr.mode();
  out.nlink = attr.nlink();
  out.uid = attr.uid();
  out.gid = attr.gid();
  out.rdev = attr.rdev();
  out.blksize = attr.blksize();
  out.flags = attr.flags();
  return out;
}

fuse_entry_out ToEntryOut(const proto::Entry& entry, uint64_t timeout_seconds) {
  fuse_entry_out out{};
  out.nodeid = entry.node();
  out.generation = entry.generation();
  out.entry_valid = timeout_seconds;
  out.attr_valid = timeout_seconds;
  out.attr = ToFuseAttr(entry.attr());
  return out;
}

size_t DirentSize(size_t name_length, bool plus) {
  const size_t dirent = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name_length);
  return plus ? sizeof(fuse_entry_out) + dirent : dirent;
}

bool AppendDirent(const proto::DirEntry& entry, bool plus, uint64_t timeout_seconds,
                  size_t max_bytes, std::string& out) {
  const std::string& name = entry.name();
  if (name.empty() || name.size() > NAME_MAX) return false;
  const size_t size = DirentSize(name.size(), plus);
  if (out.size() + size > max_bytes) return false;
  const size_t start = out.size();
  out.resize(start + size, '\0');
  char* p = out.data() + start;
  if (plus) {
    // Node 0 ("." and "..") tells the guest no lookup was taken.
    fuse_entry_out entry_out{};
    if (entry.entry().node() != 0) entry_out = ToEntryOut(entry.entry(), timeout_seconds);
    memcpy(p, &entry_out, sizeof(entry_out));
    p += sizeof(entry_out);
  }
  fuse_dirent dirent{};
  dirent.ino = entry.ino();
  dirent.off = entry.offset();
  dirent.namelen = static_cast<uint32_t>(name.size());
  dirent.type = entry.type();
  memcpy(p, &dirent, FUSE_NAME_OFFSET);
  memcpy(p + FUSE_NAME_OFFSET, name.data(), name.size());
  return true;
}

}  // namespace virtiofsd
