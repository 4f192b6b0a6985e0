#include "broker/server.h"

#include <errno.h>
#include <sched.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/channel/broker_wire.h"
#include "common/channel/operations.h"
#include "common/logging.h"

namespace virtiofsd {
namespace {

using Op = proto::Request::OpCase;

// Threads a guest can park in SETLKW at once; more get ENOLCK.
constexpr size_t kMaxLockWaiters = 64;

// How long a thread that has just answered looks for the next request without
// sleeping: about the time the frontend takes to send the next one when the guest
// keeps requests coming, so a steady stream costs no wake-ups.
constexpr absl::Duration kPollBound = absl::Microseconds(50);
// After polling found nothing within the bound, requests served before polling
// is tried again.
constexpr int kRequestsBeforeTryingAgain = 256;

}  // namespace

Server::Server(FrameSocket& socket, FileSystem& fs, int threads)
    : socket_(socket), fs_(fs), threads_(threads), waiters_(kMaxLockWaiters) {}

absl::Status Server::Run() {
  std::vector<std::thread> threads;
  for (int i = 0; i < threads_; ++i) threads.emplace_back([this] { Serve(); });
  for (std::thread& thread : threads) thread.join();
  absl::MutexLock lock(&mu_);
  return failure_;
}

void Server::Fail(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return;
    failure_ = status;
  }
  VFSD_LOG(kError, "closing the channel: %s", status.ToString());
  socket_.Shutdown();
}

void Server::Serve() {
  if (int err = UnshareThreadFs()) {
    Fail(absl::InternalError(absl::StrCat("unshare(CLONE_FS): ", strerror(err))));
    return;
  }
  ThreadCredentials credentials;
  Frame frame;
  Outbox outbox;
  bool answered = false;
  while (true) {
    absl::Status received = answered ? PollThenReceive(frame) : socket_.Receive(frame);
    answered = true;
    if (absl::IsUnavailable(received)) {
      socket_.Shutdown();  // Wakes the other serving threads.
      return;
    }
    if (!received.ok()) return Fail(received);
    absl::StatusOr<proto::RequestBatch> batch = DecodeRequests(frame);
    if (!batch.ok()) return Fail(batch.status());
    for (proto::Request& request : *batch->mutable_requests()) {
      if (!Dispatch(request, credentials, outbox)) return;
      if (outbox.frame.count() >= kRepliesPerFrame) Send(outbox);
    }
    Send(outbox);
  }
}

absl::Status Server::PollThenReceive(Frame& frame) {
  if (requests_before_polling_.load(std::memory_order_relaxed) > 0) {
    requests_before_polling_.fetch_sub(1, std::memory_order_relaxed);
  } else if (!polling_.exchange(true, std::memory_order_acquire)) {
    const absl::Time deadline = absl::Now() + kPollBound;
    absl::StatusOr<bool> got;
    while (true) {
      got = socket_.TryReceive(frame);
      if (!got.ok() || *got) break;
      if (absl::Now() >= deadline) {
        // Requests come slower than the bound: sleep for the next ones.
        requests_before_polling_.store(kRequestsBeforeTryingAgain, std::memory_order_relaxed);
        break;
      }
      sched_yield();  // the frontend may wait for this CPU
    }
    polling_.store(false, std::memory_order_release);
    if (!got.ok()) return got.status();
    if (*got) return absl::OkStatus();
  }
  return socket_.Receive(frame);
}

Server::OwnHandler Server::OwnHandlerOf(Op op) {
  switch (op) {
    // `&S::name` depends on S, so it is looked up only for the rows the server
    // answers: such a row without its method is a compile error here.
#define VIRTIOFSD_SERVER_ROW(name, result, effect, pace) \
  case Op::k##name:                                      \
    return []<typename S = Server>()->OwnHandler {       \
      if constexpr (ServedByServer(Op::k##name))         \
        return &S::name;                                 \
      else                                               \
        return nullptr;                                  \
    }                                                    \
    ();
    VIRTIOFSD_BROKER_OPERATIONS(VIRTIOFSD_SERVER_ROW)
#undef VIRTIOFSD_SERVER_ROW
    default:
      return nullptr;
  }
}

bool Server::Handshake(const proto::Request& request, Outbox& outbox) {
  if (handshake_done_.exchange(true)) {
    Fail(absl::InvalidArgumentError("second handshake"));
    return false;
  }
  Response response;
  if (request.handshake().version() != proto::PROTOCOL_VERSION_CURRENT) {
    Answer(request.id(), EPROTO, response, outbox);
    Send(outbox);
    Fail(absl::InvalidArgumentError(
        absl::StrCat("frontend speaks protocol version ", request.handshake().version())));
    return false;
  }
  response.reply.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
  Answer(request.id(), 0, response, outbox);
  return true;
}

bool Server::Interrupt(const proto::Request& request, Outbox&) {
  waiters_.Interrupt(request.interrupt().target_id());
  return true;
}

bool Server::Dispatch(proto::Request& request, ThreadCredentials& credentials, Outbox& outbox) {
  const Op op = request.op_case();
  if (op != Op::kHandshake && !handshake_done_.load()) {
    Fail(absl::InvalidArgumentError("request before the handshake"));
    return false;
  }
  if (const OwnHandler own = OwnHandlerOf(op)) return (this->*own)(request, outbox);
  Response response;
  if (IsOneWay(op)) {  // Forget, BatchForget: no credentials needed, no answer.
    fs_.Handle(request, response);
    return true;
  }
  // Handlers see the host ids the request runs as (--translate-uid/--translate-gid).
  proto::Caller& caller = *request.mutable_caller();
  int err = fs_.CallerToHost(caller);
  if (err == 0) err = credentials.SwitchTo(caller.uid(), caller.gid(), caller.umask());
  if (err == 0) err = fs_.Handle(request, response);
  if (err == kWaitLater) {
    const uint64_t id = request.id();
    err = waiters_.Start(id, std::move(response.wait), [this, id](int wait_err) {
      Response answer;
      answer.reply.mutable_empty();
      Outbox own;  // on the waiter's thread: the answer goes alone
      Answer(id, wait_err, answer, own);
      Send(own);
    });
    if (err == 0) return true;
  }
  Answer(request.id(), err, response, outbox);
  return true;
}

void Server::Answer(uint64_t id, int err, Response& response, Outbox& outbox) {
  proto::Reply& reply = response.reply;
  reply.set_id(id);
  if (err != 0) {
    reply.clear_result();
    reply.set_error(err);
  }
  int fd = err == 0 && response.handle ? response.handle->fd.get() : -1;
  absl::StatusOr<bool> appended = outbox.frame.Append(reply, fd);
  if (!appended.ok()) {
    // A reply no frame can carry is our bug, not the frontend's: answer EIO.
    VFSD_LOG(kWarn, "reply %d: %s; answering EIO", id, appended.status().ToString());
    reply.Clear();
    reply.set_id(id);
    reply.set_error(EIO);
    fd = -1;
    appended = outbox.frame.Append(reply, fd);
  }
  if (!*appended) {  // the frame is full: send it, and the reply starts the next
    Send(outbox);
    appended = outbox.frame.Append(reply, fd);
  }
  if (fd >= 0) outbox.handles.push_back(std::move(response.handle));
}

void Server::Send(Outbox& outbox) {
  const size_t count = outbox.frame.count();
  absl::Status sent = outbox.frame.Send(socket_);
  outbox.handles.clear();
  if (!sent.ok() && !absl::IsUnavailable(sent)) {
    VFSD_LOG(kWarn, "%d replies not sent: %s", count, sent.ToString());
  }
}

}  // namespace virtiofsd
