// --xattrmap: the Rust/QEMU virtiofsd rule language that renames extended
// attributes between the guest's view and the host's. Pure; parsed once at start.
//
// Rules `<sep>type<sep>scope<sep>key<sep>prepend<sep>` (the first non-space
// character is the separator), tried in order, the first match wins:
//   type   prefix | ok | bad, or the shorthand `<sep>map<sep>key<sep>prepend<sep>`
//          (which must be last);
//   scope  client (guest names, set/get/remove: matches when the name starts with
//          key), server (host names, listxattr: matches when the name starts
//          with prepend), all (both).
// Guest -> host: prefix prepends `prepend`, ok keeps the name, bad or no match
// refuses (EPERM). Host -> guest: prefix strips `prepend`, ok keeps, bad or no
// match hides the name.

#ifndef VIRTIOFSD_BROKER_XATTR_MAP_H_
#define VIRTIOFSD_BROKER_XATTR_MAP_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace virtiofsd {

class XattrMap {
 public:
  enum class Type { kPrefix, kOk, kBad };
  struct Rule {
    Type type;
    bool client;
    bool server;
    std::string key;
    std::string prepend;
  };

  // kInvalidArgument naming the rule for a malformed list.
  static absl::StatusOr<XattrMap> Parse(std::string_view rules);

  // The host name for a guest name, or nullopt when the guest may not use it.
  std::optional<std::string> ToHost(std::string_view guest_name) const;
  // The guest name for a host name, or nullopt when the guest must not see it.
  std::optional<std::string> ToGuest(std::string_view host_name) const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_XATTR_MAP_H_
