// What every broker handler gives back: an errno as its return value (0, a
// positive errno, or kWaitLater) and, in a Response, the result to send, the fd
// a reply carries, or the wait that must run before there is an answer.

#ifndef VIRTIOFSD_BROKER_RESPONSE_H_
#define VIRTIOFSD_BROKER_RESPONSE_H_

#include <functional>
#include <memory>

#include "broker/handle_table.h"
#include "proto/broker.pb.h"

namespace virtiofsd {

// A handler's return value when `Response::wait` must run before the answer exists.
inline constexpr int kWaitLater = -1;

struct Response {
  proto::Reply reply;  // The handler sets the result on success.
  // The fd a successful Open/Create/Tmpfile reply carries, kept open by `handle`
  // until the reply is sent (a concurrent RELEASE cannot close it under us).
  std::shared_ptr<OpenHandle> handle;
  // Set instead of a result when the answer must wait (SETLKW, blocking flock):
  // run on a thread of its own; returns the errno, EINTR when a signal cut it
  // short (the caller decides whether to retry or answer EINTR).
  std::function<int()> wait;
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_RESPONSE_H_
