#include "broker/xattr_ops.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/xattr.h>

#include <algorithm>
#include <optional>
#include <string>

#include "broker/credentials.h"
#include "broker/id_translation.h"
#include "common/fs_names.h"

namespace virtiofsd {
namespace {

constexpr uint32_t kXattrSizeMax = 64 * 1024;  // XATTR_SIZE_MAX, and XATTR_LIST_MAX.
constexpr char kAclAccess[] = "system.posix_acl_access";
constexpr char kAclDefault[] = "system.posix_acl_default";
constexpr char kCapabilityXattr[] = "security.capability";

}  // namespace

int XattrOps::HostXattrName(const std::string& guest_name, std::string& host_name) const {
  if (!store_.config().xattr) return ENOSYS;  // The guest stops asking.
  if (int err = CheckXattrName(guest_name)) return err;
  if (!store_.config().posix_acl && (guest_name == kAclAccess || guest_name == kAclDefault)) {
    return EOPNOTSUPP;
  }
  if (!store_.config().xattrmap) {
    host_name = guest_name;
    return 0;
  }
  std::optional<std::string> mapped = store_.config().xattrmap->ToHost(guest_name);
  if (!mapped) return EPERM;
  host_name = std::move(*mapped);
  return CheckXattrName(host_name);
}

bool XattrOps::IsTranslatedAcl(const std::string& guest_name) const {
  return (guest_name == kAclAccess || guest_name == kAclDefault) &&
         !(store_.config().uids.empty() && store_.config().gids.empty());
}

int XattrOps::CheckCapabilityXattr(const proto::Request& request,
                                   const std::string& host_name) const {
  // Setting or removing a file capability needs CAP_SETFCAP, which only root has;
  // the broker holds it for every caller, and a remapped name is an ordinary xattr.
  const std::string& guest_name =
      request.has_setxattr() ? request.setxattr().name() : request.removexattr().name();
  const bool capability = guest_name == kCapabilityXattr || host_name == kCapabilityXattr;
  return capability && request.caller().uid() != 0 ? EPERM : 0;
}

int XattrOps::Setxattr(const proto::Request& request, Response& response) {
  const proto::SetxattrRequest& r = request.setxattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  if (int err = CheckCapabilityXattr(request, name)) return err;
  if (r.flags() & ~static_cast<uint32_t>(XATTR_CREATE | XATTR_REPLACE)) return EINVAL;
  if (r.value().size() > kXattrSizeMax) return E2BIG;
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  std::optional<ScopedCapability> kill_sgid;
  if (r.setxattr_flags() & proto::SETXATTR_ACL_KILL_SGID) kill_sgid.emplace(CAP_FSETID, false);
  if (int err = store_.EnterProcSelfFd()) return err;
  const std::string* value = &r.value();
  std::string host_acl;
  if (IsTranslatedAcl(r.name())) {
    host_acl = r.value();
    if (int err = TranslateAclXattr(host_acl, true, store_.config().uids, store_.config().gids))
      return err;
    value = &host_acl;
  }
  if (setxattr(FdName(node.fd).c_str(), name.c_str(), value->data(), value->size(),
               static_cast<int>(r.flags())) < 0) {
    return errno;
  }
  response.reply.mutable_empty();
  return 0;
}

int XattrOps::Getxattr(const proto::Request& request, Response& response) {
  const proto::GetxattrRequest& r = request.getxattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  std::string value(std::min(r.size(), kXattrSizeMax), '\0');
  if (int err = store_.EnterProcSelfFd()) return err;
  const ssize_t n = getxattr(FdName(node.fd).c_str(), name.c_str(), value.data(), value.size());
  if (n < 0) return errno;
  proto::XattrReply* reply = response.reply.mutable_xattr();
  reply->set_size(static_cast<uint32_t>(n));
  if (r.size() != 0) {
    value.resize(n);
    // Same size both ways: only the ids change.
    if (IsTranslatedAcl(r.name())) {
      if (int err = TranslateAclXattr(value, false, store_.config().uids, store_.config().gids))
        return err;
    }
    reply->set_value(std::move(value));
  }
  return 0;
}

int XattrOps::Listxattr(const proto::Request& request, Response& response) {
  const proto::ListxattrRequest& r = request.listxattr();
  if (!store_.config().xattr) return ENOSYS;
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  if (int err = store_.EnterProcSelfFd()) return err;
  // The whole host list: mapping changes names and sizes.
  std::string list(kXattrSizeMax, '\0');
  const ssize_t n = listxattr(FdName(node.fd).c_str(), list.data(), list.size());
  if (n < 0) return errno;
  list.resize(n);
  std::string guest_list;
  for (size_t pos = 0; pos < list.size();) {
    const std::string host_name(list.c_str() + pos);
    pos += host_name.size() + 1;
    std::optional<std::string> name = host_name;
    if (store_.config().xattrmap) name = store_.config().xattrmap->ToGuest(host_name);
    if (!name) continue;
    if (!store_.config().posix_acl && (*name == kAclAccess || *name == kAclDefault)) continue;
    guest_list.append(*name);
    guest_list.push_back('\0');
  }
  proto::XattrReply* reply = response.reply.mutable_xattr();
  reply->set_size(static_cast<uint32_t>(guest_list.size()));
  if (r.size() != 0) {
    if (guest_list.size() > r.size()) return ERANGE;
    reply->set_value(std::move(guest_list));
  }
  return 0;
}

int XattrOps::Removexattr(const proto::Request& request, Response& response) {
  const proto::RemovexattrRequest& r = request.removexattr();
  std::string name;
  if (int err = HostXattrName(r.name(), name)) return err;
  if (int err = CheckCapabilityXattr(request, name)) return err;
  HeldNode node;
  if (int err = store_.GetHeldNode(r.node(), node)) return err;
  if (int err = store_.EnterProcSelfFd()) return err;
  if (removexattr(FdName(node.fd).c_str(), name.c_str()) < 0) return errno;
  response.reply.mutable_empty();
  return 0;
}

}  // namespace virtiofsd
