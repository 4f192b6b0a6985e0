// One FUSE request in progress: the decoded header, a bounded copy of its
// argument bytes (read front to back with Arg() and String()), and the chain the
// reply goes into. Reply() encodes fuse_out_header and the payload into the
// chain's writable buffers and completes it.
//
// Contract: a FuseCall always ends with exactly one completion of its chain. A call
// destroyed without a reply (a lost callback, a request that could not be sent)
// answers EIO. A reply larger than the room the guest gave becomes ERANGE; a chain
// without room for even the reply header is completed empty, with one log line.

#ifndef VIRTIOFSD_FRONTEND_FUSE_CALL_H_
#define VIRTIOFSD_FRONTEND_FUSE_CALL_H_

#include <linux/fuse.h>

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "frontend/chain_io.h"
#include "frontend/queue_runner.h"

namespace virtiofsd {

// The bytes of a reply struct, for Reply()'s parts.
inline std::string_view Bytes(const void* data, size_t size) {
  return std::string_view(static_cast<const char*>(data), size);
}
template <typename T>
std::string_view Bytes(const T& value) {
  return Bytes(&value, sizeof(T));
}

struct FuseCall {
  // Largest in-arguments copied out of guest memory (everything but WRITE data):
  // a SETXATTR with a 64 KiB value and its name is the largest legal one.
  static constexpr size_t kMaxArgBytes = 68 * 1024;

  // Decodes the request `pending` carries: nullptr (and the chain completed
  // empty) when it has no FUSE header. A header whose length disagrees with the
  // chain, or arguments beyond kMaxArgBytes, are answered EINVAL here, also
  // returning nullptr. WRITE's data stays in guest memory (write_data).
  static std::unique_ptr<FuseCall> Decode(PendingChain pending);

  FuseCall(PendingChain pending, const fuse_in_header& header)
      : chain(std::move(pending)), in(header) {}
  ~FuseCall();
  FuseCall(const FuseCall&) = delete;
  FuseCall& operator=(const FuseCall&) = delete;

  // Copies the next `size` (at most sizeof(T)) argument bytes into `out`, zeroing
  // the rest of it; false (consuming nothing) if too few remain.
  template <typename T>
  bool Arg(T& out, size_t size = sizeof(T)) {
    if (args.size() - pos < size || size > sizeof(T)) return false;
    out = T{};
    memcpy(&out, args.data() + pos, size);
    pos += size;
    return true;
  }
  // The next NUL-terminated string, without its NUL; nullopt if there is no NUL.
  std::optional<std::string_view> String();
  // The argument bytes not read yet.
  std::string_view Rest() const { return std::string_view(args).substr(pos); }

  // Writes the reply header and (when `error` is 0) `parts` into the chain and
  // completes it.
  void Reply(int error, std::initializer_list<std::string_view> parts = {});
  void ReplyError(int error) { Reply(error); }
  // FORGET, BATCH_FORGET, INTERRUPT: the chain goes back without a reply.
  void NoReply();
  // Logs a malformed request (`what`) and answers EINVAL.
  void Malformed(std::string_view what);
  // READ: the reply header goes into `header` (the first bytes of the writable
  // buffers), after `data_bytes` of data were written behind it directly.
  void ReplyWritten(const IovecList& header, size_t data_bytes);

  PendingChain chain;
  const fuse_in_header in;
  std::string args;
  size_t pos = 0;
  IovecList write_data;  // WRITE's payload, still in guest memory.
  bool done = false;
  // Runs once, however the call ends, just before the guest can see the reply
  // (SETLKW's lock-wait bookkeeping): once a request is answered, nothing of it
  // touches the session any more.
  absl::AnyInvocable<void()> on_end;

 private:
  // Marks the call answered, runs on_end, then returns the chain to the guest.
  void Finish(uint32_t written);
};

}  // namespace virtiofsd

#endif  // VIRTIOFSD_FRONTEND_FUSE_CALL_H_
