// For tests that start virtiofsd-broker or virtiofsd-frontend themselves: a child
// configuration written in protobuf text format, as the sealed memfd the
// launcher would hand over (common/child_config.h). Map the fd onto
// kChildConfigFd of the child.

#ifndef VIRTIOFSD_COMMON_TESTING_CONFIG_TEXT_H_
#define VIRTIOFSD_COMMON_TESTING_CONFIG_TEXT_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/child_config.h"
#include "google/protobuf/text_format.h"

namespace virtiofsd::testing {

// Parses `text` as a Config (aborts the test binary on a typo in it).
template <typename Config>
Config ConfigFromText(const std::string& text) {
  Config config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    fprintf(stderr, "not a %s: %s\n", config.GetTypeName().c_str(), text.c_str());
    abort();
  }
  return config;
}

// The memfd holding ConfigFromText<Config>(text).
template <typename Config>
UniqueFd ConfigMemfdFromText(const std::string& text) {
  absl::StatusOr<UniqueFd> fd = ConfigMemfd(ConfigFromText<Config>(text));
  if (!fd.ok()) abort();
  return *std::move(fd);
}

}  // namespace virtiofsd::testing

#endif  // VIRTIOFSD_COMMON_TESTING_CONFIG_TEXT_H_
