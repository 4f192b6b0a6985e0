// The start-up configuration of each child (proto/config.proto), translated from
// the launcher's Options.
//
// Pure: no syscalls. Every setting that has a default is written explicitly, so
// the children's own defaults never decide what the user asked for. The fd
// numbers are those of the launcher <-> child contract (common/child_config.h).

#ifndef VIRTIOFSD_LAUNCHER_CHILD_CONFIGS_H_
#define VIRTIOFSD_LAUNCHER_CHILD_CONFIGS_H_

#include "launcher/frontend_identity.h"
#include "launcher/options.h"
#include "proto/config.pb.h"

namespace virtiofsd {

proto::BrokerConfig BrokerConfigFor(const Options& options);

// `identity`: the ids the frontend runs as (frontend_identity.h).
proto::FrontendConfig FrontendConfigFor(const Options& options, const FrontendIdentity& identity);

}  // namespace virtiofsd

#endif  // VIRTIOFSD_LAUNCHER_CHILD_CONFIGS_H_
