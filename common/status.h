// Errors that keep their errno, and the status plumbing Debian's abseil lacks.
//
// The project has two kinds of failure (see README "Errors"): a filesystem result,
// which is an errno that must reach the guest unchanged, and a broken peer or
// malformed message, which ends a request or a connection. Both travel as
// absl::Status; ErrnoError() attaches the exact errno as a payload, because
// absl's own ErrnoToStatus maps EPERM, EACCES and EROFS to one code.

#ifndef VIRTIOFSD_COMMON_STATUS_H_
#define VIRTIOFSD_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace virtiofsd {

// A status for a failed syscall: code from absl::ErrnoToStatusCode(err), message
// "<what>: <strerror>", and `err` kept for ErrnoOf(). `err` must be > 0.
absl::Status ErrnoError(int err, absl::string_view what);

// The errno a status carries: the one given to ErrnoError(), 0 for OK, and for a
// status made elsewhere an errno that fits its code (EIO when nothing fits).
int ErrnoOf(const absl::Status& status);

}  // namespace virtiofsd

// Returns the status of `expr` from the calling function if it is not OK.
#define VFSD_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status vfsd_status_ = (expr);        \
    if (!vfsd_status_.ok()) return vfsd_status_; \
  } while (false)

// `VFSD_ASSIGN_OR_RETURN(T x, StatusOrExpr);` declares or assigns x from the value,
// or returns the error from the calling function.
#define VFSD_ASSIGN_OR_RETURN(lhs, expr) \
  VFSD_ASSIGN_OR_RETURN_IMPL_(VFSD_CONCAT_(vfsd_statusor_, __LINE__), lhs, expr)

#define VFSD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#define VFSD_CONCAT_INNER_(a, b) a##b
#define VFSD_CONCAT_(a, b) VFSD_CONCAT_INNER_(a, b)

#endif  // VIRTIOFSD_COMMON_STATUS_H_
