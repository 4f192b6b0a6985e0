#include "broker/xattr_map.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace virtiofsd {
namespace {

absl::Status Malformed(std::string_view rules, size_t at, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("xattrmap: ", std::string(why), " at offset ", at,
                                                 " of '", std::string(rules), "'"));
}

}  // namespace

absl::StatusOr<XattrMap> XattrMap::Parse(std::string_view rules) {
  XattrMap map;
  size_t pos = 0;
  bool saw_map = false;
  while (true) {
    while (pos < rules.size() && isspace(static_cast<unsigned char>(rules[pos]))) ++pos;
    if (pos == rules.size()) break;
    if (saw_map) return Malformed(rules, pos, "the map rule must be the last");
    const char sep = rules[pos++];
    std::vector<std::string> fields;
    for (int i = 0; i < 4; ++i) {
      const size_t end = rules.find(sep, pos);
      if (end == std::string_view::npos) {
        return Malformed(rules, pos, "missing field or separator");
      }
      fields.emplace_back(rules.substr(pos, end - pos));
      pos = end + 1;
      if (fields.size() == 3 && fields[0] == "map") break;
    }
    if (fields[0] == "map") {
      if (fields.size() != 3) return Malformed(rules, pos, "map takes key and prepend");
      saw_map = true;
      const std::string& key = fields[1];
      const std::string& prepend = fields[2];
      map.rules_.push_back({Type::kPrefix, true, true, key, prepend});
      if (key.empty()) {
        map.rules_.push_back({Type::kBad, true, true, "", ""});
      } else {
        map.rules_.push_back({Type::kBad, false, true, "", key});
        map.rules_.push_back({Type::kBad, true, false, prepend, ""});
        map.rules_.push_back({Type::kOk, true, true, "", ""});
      }
      continue;
    }
    Rule rule;
    if (fields[0] == "prefix") {
      rule.type = Type::kPrefix;
    } else if (fields[0] == "ok") {
      rule.type = Type::kOk;
    } else if (fields[0] == "bad") {
      rule.type = Type::kBad;
    } else {
      return Malformed(rules, pos, "unknown type '" + fields[0] + "'");
    }
    if (fields[1] == "client") {
      rule.client = true, rule.server = false;
    } else if (fields[1] == "server") {
      rule.client = false, rule.server = true;
    } else if (fields[1] == "all") {
      rule.client = rule.server = true;
    } else {
      return Malformed(rules, pos, "unknown scope '" + fields[1] + "'");
    }
    rule.key = fields[2];
    rule.prepend = fields[3];
    map.rules_.push_back(std::move(rule));
  }
  if (map.rules_.empty()) return Malformed(rules, 0, "no rules");
  return map;
}

std::optional<std::string> XattrMap::ToHost(std::string_view guest_name) const {
  for (const Rule& rule : rules_) {
    if (!rule.client || !guest_name.starts_with(rule.key)) continue;
    switch (rule.type) {
      case Type::kPrefix:
        return rule.prepend + std::string(guest_name);
      case Type::kOk:
        return std::string(guest_name);
      case Type::kBad:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::string> XattrMap::ToGuest(std::string_view host_name) const {
  for (const Rule& rule : rules_) {
    if (!rule.server || !host_name.starts_with(rule.prepend)) continue;
    switch (rule.type) {
      case Type::kPrefix:
        return std::string(host_name.substr(rule.prepend.size()));
      case Type::kOk:
        return std::string(host_name);
      case Type::kBad:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace virtiofsd
