#include "broker/entry_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "broker/credentials.h"
#include "common/fs_names.h"

namespace virtiofsd {
namespace {

// FUSE carries rdev as the kernel's new_encode_dev() 32-bit value.
dev_t DecodeDev(uint32_t rdev) {
  return makedev((rdev & 0xfff00) >> 8, (rdev & 0xff) | ((rdev >> 12) & 0xfff00));
}

}  // namespace

int EntryOps::Lookup(const proto::Request& request, Response& response) {
  const proto::LookupRequest& r = request.lookup();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  return store_.MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int EntryOps::Forget(const proto::Request& request, Response&) {
  store_.nodes().Forget(request.forget().node(), request.forget().nlookup());
  return 0;
}

int EntryOps::BatchForget(const proto::Request& request, Response&) {
  for (const proto::ForgetRequest& forget : request.batch_forget().forgets()) {
    store_.nodes().Forget(forget.node(), forget.nlookup());
  }
  return 0;
}

int EntryOps::Destroy(const proto::Request&, Response& response) {
  store_.handles().RemoveAll();
  store_.nodes().ForgetAll();
  response.reply.mutable_empty();
  return 0;
}

int EntryOps::Getattr(const proto::Request& request, Response& response) {
  const proto::GetattrRequest& r = request.getattr();
  struct statx st;
  if (r.handle() != 0) {
    std::shared_ptr<OpenHandle> handle;
    if (int err = store_.GetFile(r.handle(), handle)) return err;
    if (int err = StatFd(handle->fd.get(), st)) return err;
  } else {
    HeldNode node;
    if (int err = store_.GetHeldNode(r.node(), node)) return err;
    if (int err = StatFd(node.fd, st)) return err;
  }
  store_.FillAttr(st, st.stx_mnt_id, response.reply.mutable_attr()->mutable_attr());
  return 0;
}

int EntryOps::Setattr(const proto::Request& request, Response& response) {
  const proto::SetattrRequest& r = request.setattr();
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  std::shared_ptr<OpenHandle> handle;
  if (r.valid() & proto::SETATTR_FH) {
    if (int err = store_.GetFile(r.handle(), handle)) return err;
  }
  const int fd = handle ? handle->fd.get() : -1;
  const std::string proc_name = FdName(node.fd);
  std::optional<ScopedCapability> kill_suidgid;
  if (store_.config().killpriv_v2 && (r.valid() & proto::SETATTR_KILL_SUIDGID)) {
    kill_suidgid.emplace(CAP_FSETID, false);
  }
  const uid_t caller = request.caller().uid();
  struct statx before;
  if (int err = StatFd(node.fd, before)) return err;

  if (r.kill_priv()) {
    // Before a write through `handle` (see OpenReply.kill_priv_on_write).
    if (!handle || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) return EBADF;
    if (int err = store_.ClearMappedCapability(*node.inode)) return err;
  }
  if (r.valid() & proto::SETATTR_MODE) {
    const mode_t mode = r.mode() & 07777;
    // The guest kernel clears set-id bits after a write or truncate by someone
    // who is not the owner with a chmod of its own (proto::SETATTR_MODE without the bits):
    // Linux lets any writer lose them, so the host must too.
    const mode_t old_mode = before.stx_mode & 07777;
    const bool only_kills_setid =
        mode != old_mode && (mode | (old_mode & (S_ISUID | S_ISGID))) == old_mode;
    std::optional<ScopedCapability> fowner, fsetid;
    if (caller != 0 && only_kills_setid) fowner.emplace(CAP_FOWNER, true);
    // An owner's S_ISGID: the guest kernel already cleared it unless the caller
    // is in the file's group, which only it can tell.
    if (caller != 0 && before.stx_uid == caller) fsetid.emplace(CAP_FSETID, true);
    if (fd >= 0) {
      if (fchmod(fd, mode) < 0) return errno;
    } else if (node.inode->type == S_IFLNK) {
      return EOPNOTSUPP;  // Linux has no mode on symlinks (fchmodat2 says so too).
    } else if (fchmodat(store_.proc_self_fd(), proc_name.c_str(), mode, 0) < 0) {
      return errno;
    }
  }
  if (r.valid() & (proto::SETATTR_UID | proto::SETATTR_GID)) {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (r.valid() & proto::SETATTR_UID) {
      std::optional<uint32_t> host = store_.config().uids.ToHost(r.uid());
      if (!host) return EPERM;  // forbid-guest
      uid = *host;
    }
    if (r.valid() & proto::SETATTR_GID) {
      std::optional<uint32_t> host = store_.config().gids.ToHost(r.gid());
      if (!host) return EPERM;
      gid = *host;
    }
    // An owner may give its file to any group it belongs to; the guest kernel
    // checked that against all of the caller's groups, which the host cannot.
    std::optional<ScopedCapability> chown_cap;
    if (caller != 0 && before.stx_uid == caller &&
        (uid == static_cast<uid_t>(-1) || uid == caller)) {
      chown_cap.emplace(CAP_CHOWN, true);
    }
    if (fchownat(node.fd, "", uid, gid, kAtEmptyNoFollow) < 0) return errno;
    store_.ClearMappedCapability(*node.inode);
  }
  if (r.valid() & proto::SETATTR_SIZE) {
    if (r.size() > INT64_MAX) return EINVAL;
    if (fd >= 0) {
      if (ftruncate(fd, static_cast<off_t>(r.size())) < 0) return errno;
    } else {
      if (node.inode->type == S_IFDIR) return EISDIR;
      if (node.inode->type != S_IFREG) return EINVAL;
      UniqueFd file;
      if (int err = store_.Reopen(*node.inode, O_WRONLY | O_NONBLOCK, file)) return err;
      if (ftruncate(file.get(), static_cast<off_t>(r.size())) < 0) return errno;
    }
    store_.ClearMappedCapability(*node.inode);
  }
  if (r.valid() & (proto::SETATTR_ATIME | proto::SETATTR_MTIME)) {
    struct timespec times[2];
    times[0].tv_sec = r.atime();
    times[0].tv_nsec = (r.valid() & proto::SETATTR_ATIME_NOW) ? UTIME_NOW : r.atime_nsec();
    if (!(r.valid() & proto::SETATTR_ATIME)) times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = r.mtime();
    times[1].tv_nsec = (r.valid() & proto::SETATTR_MTIME_NOW) ? UTIME_NOW : r.mtime_nsec();
    if (!(r.valid() & proto::SETATTR_MTIME)) times[1].tv_nsec = UTIME_OMIT;
    const int result =
        fd >= 0 ? futimens(fd, times) : utimensat(node.fd, "", times, kAtEmptyNoFollow);
    if (result < 0) return errno;
  }
  struct statx st;
  if (int err = StatFd(node.fd, st)) return err;
  store_.FillAttr(st, st.stx_mnt_id, response.reply.mutable_attr()->mutable_attr());
  return 0;
}

int EntryOps::Readlink(const proto::Request& request, Response& response) {
  HeldNode node;
  if (int err = store_.GetHeldNode(request.readlink().node(), node)) return err;
  if (node.inode->type != S_IFLNK) return EINVAL;
  std::string target(PATH_MAX, '\0');
  const ssize_t n = readlinkat(node.fd, "", target.data(), target.size());
  if (n < 0) return errno;
  target.resize(n);
  response.reply.mutable_readlink()->set_target(std::move(target));
  return 0;
}

int EntryOps::Symlink(const proto::Request& request, Response& response) {
  const proto::SymlinkRequest& r = request.symlink();
  if (int err = CheckEntryName(r.name())) return err;
  if (int err = CheckSymlinkTarget(r.target())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  if (symlinkat(r.target().c_str(), parent->fd.get(), r.name().c_str()) < 0) return errno;
  return store_.MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int EntryOps::Mknod(const proto::Request& request, Response& response) {
  const proto::MknodRequest& r = request.mknod();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  const mode_t mode = r.mode() & (S_IFMT | 07777);
  std::optional<ScopedCapability> keep_setgid;
  if (r.guest_strips_setgid()) keep_setgid.emplace(CAP_FSETID, true);
  if (mknodat(parent->fd.get(), r.name().c_str(), mode, DecodeDev(r.rdev())) < 0) return errno;
  return store_.MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int EntryOps::Mkdir(const proto::Request& request, Response& response) {
  const proto::MkdirRequest& r = request.mkdir();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  if (mkdirat(parent->fd.get(), r.name().c_str(), r.mode() & 07777) < 0) return errno;
  return store_.MakeEntry(*parent, r.name().c_str(), response.reply.mutable_entry());
}

int EntryOps::Unlink(const proto::Request& request, Response& response) {
  const proto::UnlinkRequest& r = request.unlink();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  if (unlinkat(parent->fd.get(), r.name().c_str(), 0) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int EntryOps::Rmdir(const proto::Request& request, Response& response) {
  const proto::RmdirRequest& r = request.rmdir();
  if (int err = CheckEntryName(r.name())) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.parent(), parent)) return err;
  if (unlinkat(parent->fd.get(), r.name().c_str(), AT_REMOVEDIR) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

int EntryOps::Rename(const proto::Request& request, Response& response) {
  const proto::RenameRequest& r = request.rename();
  if (r.flags() & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return EINVAL;
  if (int err = CheckEntryName(r.old_name())) return err;
  if (int err = CheckEntryName(r.new_name())) return err;
  std::shared_ptr<Inode> old_parent, new_parent;
  if (int err = store_.GetDir(r.old_parent(), old_parent)) return err;
  if (int err = store_.GetDir(r.new_parent(), new_parent)) return err;
  if (syscall(SYS_renameat2, old_parent->fd.get(), r.old_name().c_str(), new_parent->fd.get(),
              r.new_name().c_str(), r.flags()) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int EntryOps::Link(const proto::Request& request, Response& response) {
  const proto::LinkRequest& r = request.link();
  if (int err = CheckEntryName(r.new_name())) return err;
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  std::shared_ptr<Inode> parent;
  if (int err = store_.GetDir(r.new_parent(), parent)) return err;
  if (node.inode->type == S_IFDIR) return EPERM;  // As link(2) says for directories.
  // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link does not.
  if (linkat(store_.proc_self_fd(), FdName(node.fd).c_str(), parent->fd.get(), r.new_name().c_str(),
             AT_SYMLINK_FOLLOW) < 0) {
    return errno;
  }
  return store_.MakeEntry(*parent, r.new_name().c_str(), response.reply.mutable_entry());
}

int EntryOps::Statfs(const proto::Request& request, Response& response) {
  HeldNode node;
  if (int err = store_.GetHeldNode(request.statfs().node(), node)) return err;
  struct statfs st;
  if (fstatfs(node.fd, &st) < 0) return errno;
  proto::StatfsReply* reply = response.reply.mutable_statfs();
  reply->set_blocks(st.f_blocks);
  reply->set_bfree(st.f_bfree);
  reply->set_bavail(st.f_bavail);
  reply->set_files(st.f_files);
  reply->set_ffree(st.f_ffree);
  reply->set_bsize(st.f_bsize);
  reply->set_namelen(st.f_namelen);
  reply->set_frsize(st.f_frsize);
  return 0;
}

int EntryOps::Access(const proto::Request& request, Response& response) {
  const proto::AccessRequest& r = request.access();
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  if (r.mask() & ~static_cast<uint32_t>(R_OK | W_OK | X_OK)) return EINVAL;
  // Guests that check permissions themselves never ask; those that ask get the
  // host's answer for the caller's uid/gid (no supplementary groups).
  ScopedCapability no_override(CAP_DAC_OVERRIDE, false);
  // AT_EACCESS: check as the fsuid/fsgid this thread acts with.
  if (syscall(SYS_faccessat2, node.fd, "", r.mask(), AT_EMPTY_PATH | AT_EACCESS) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

}  // namespace virtiofsd
