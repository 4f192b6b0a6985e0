#include "frontend/fuse_context.h"

#include <errno.h>

#include "common/logging.h"
#include "frontend/fuse_encode.h"
#include "frontend/fuse_opcodes.h"

namespace virtiofsd {
namespace {

bool Listed(const FuseCall& call, const proto::Request& request) {
  if (OpcodeSends(call.in.opcode, request.op_case())) return true;
  VFSD_LOG(kError, "FUSE opcode %u sends broker operation %d, which fuse_opcodes.h does not list",
           call.in.opcode, static_cast<int>(request.op_case()));
  return false;
}

}  // namespace

FuseContext::FuseContext(BrokerClient& broker, FuseOptions options, WorkerPool* pool)
    : own_link_(std::make_unique<BrokerLink>(
          std::shared_ptr<BrokerClient>(&broker, [](BrokerClient*) {}))),
      broker_(*own_link_),
      pool_(pool),
      options_(options),
      timeout_(CacheTimeoutSeconds(options.cache)) {}

FuseContext::FuseContext(BrokerLink& broker, FuseOptions options, WorkerPool* pool)
    : broker_(broker),
      pool_(pool),
      options_(options),
      timeout_(CacheTimeoutSeconds(options.cache)) {}

proto::Request FuseContext::NewRequest(const FuseCall& call, uint32_t umask) {
  proto::Request request;
  proto::Caller* caller = request.mutable_caller();
  caller->set_uid(call.in.uid);
  caller->set_gid(call.in.gid);
  caller->set_pid(call.in.pid);
  caller->set_umask(umask);
  return request;
}

std::optional<uint64_t> FuseContext::Forward(std::unique_ptr<FuseCall> call, proto::Request request,
                                             OnReply on_reply) {
  if (!Listed(*call, request)) return std::nullopt;  // ~FuseCall answers EIO.
  // If Submit() fails, the callback (and the call it owns) is destroyed unrun, and
  // ~FuseCall answers EIO.
  absl::StatusOr<uint64_t> sent =
      broker_.Submit(std::move(request), [call = std::move(call), on_reply = std::move(on_reply)](
                                             absl::StatusOr<BrokerResponse> response) mutable {
        if (!response.ok()) {
          // The channel has ended: BrokerClient logged why, once.
          VFSD_LOG(kDebug, "broker: %s", response.status().message());
          return call->ReplyError(EIO);
        }
        if (response->reply.error() != 0) return call->ReplyError(response->reply.error());
        on_reply(*call, *response);
      });
  if (!sent.ok()) {
    if (absl::IsUnavailable(sent.status())) {
      VFSD_LOG(kDebug, "broker: %s", sent.status().message());  // logged once, at its end
    } else {
      VFSD_LOG(kError, "broker: %s", sent.status().message());
    }
    return std::nullopt;
  }
  return *sent;
}

void FuseContext::ForwardEmpty(std::unique_ptr<FuseCall> call, proto::Request request) {
  Forward(std::move(call), std::move(request),
          [](FuseCall& call, BrokerResponse&) { call.Reply(0); });
}

void FuseContext::ForwardEntry(std::unique_ptr<FuseCall> call, proto::Request request) {
  Forward(std::move(call), std::move(request), [this](FuseCall& call, BrokerResponse& response) {
    call.Reply(0, {Bytes(ToEntryOut(response.reply.entry(), timeout_))});
  });
}

void FuseContext::ForwardAttr(std::unique_ptr<FuseCall> call, proto::Request request) {
  Forward(std::move(call), std::move(request), [this](FuseCall& call, BrokerResponse& response) {
    fuse_attr_out out{};
    out.attr_valid = timeout_;
    out.attr = ToFuseAttr(response.reply.attr().attr());
    call.Reply(0, {Bytes(out)});
  });
}

int FuseContext::Call(const FuseCall& call, proto::Request request) {
  if (!Listed(call, request)) return EIO;
  absl::StatusOr<BrokerResponse> response = broker_.Call(std::move(request));
  if (!response.ok()) return EIO;
  return response->reply.error();
}

void FuseContext::SendOneWay(proto::Request request) {
  (void)broker_.SendOneWay(std::move(request));
}

void FuseContext::InterruptAtBroker(const std::vector<uint64_t>& broker_ids) {
  for (uint64_t id : broker_ids) {
    proto::Request request;
    request.mutable_interrupt()->set_target_id(id);
    SendOneWay(std::move(request));
  }
}

fuse_open_out FuseContext::OpenOut(uint64_t handle, uint32_t broker_flags) const {
  fuse_open_out out{};
  out.fh = handle;
  out.open_flags = broker_flags;
  if (options_.cache == CachePolicy::kNever || options_.cache == CachePolicy::kMetadata) {
    out.open_flags |= FOPEN_DIRECT_IO;
  } else if (options_.cache == CachePolicy::kAlways) {
    out.open_flags |= FOPEN_KEEP_CACHE;
  }
  return out;
}

}  // namespace virtiofsd
