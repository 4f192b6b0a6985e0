// gMock matchers for absl::Status / absl::StatusOr (Debian's abseil ships none).
//
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(s, HasErrno(EACCES));      // the errno ErrnoOf() finds
//   ASSERT_OK_AND_ASSIGN(auto v, MakeIt());

#ifndef VIRTIOFSD_COMMON_STATUS_MATCHERS_H_
#define VIRTIOFSD_COMMON_STATUS_MATCHERS_H_

#include <string.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"
#include "gmock/gmock.h"

namespace virtiofsd::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status: " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status: " << status;
  return status.code() == code;
}

// An OK StatusOr whose value equals `value`.
MATCHER_P(IsOkAndHolds, value, "is OK and holds " + ::testing::PrintToString(value)) {
  if (!arg.ok()) {
    *result_listener << "status: " << arg.status();
    return false;
  }
  *result_listener << "value: " << ::testing::PrintToString(*arg);
  return *arg == value;
}

MATCHER_P(HasErrno, err, std::string("fails with errno ") + strerrorname_np(err)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status: " << status;
  return ErrnoOf(status) == err;
}

}  // namespace virtiofsd::testing

#define VFSD_TESTING_CONCAT_INNER_(a, b) a##b
#define VFSD_TESTING_CONCAT_(a, b) VFSD_TESTING_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::virtiofsd::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::virtiofsd::testing::IsOk())

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                               \
  auto VFSD_TESTING_CONCAT_(vfsd_statusor_, __LINE__) = (expr);       \
  ASSERT_OK(VFSD_TESTING_CONCAT_(vfsd_statusor_, __LINE__).status()); \
  lhs = *std::move(VFSD_TESTING_CONCAT_(vfsd_statusor_, __LINE__))

#endif  // VIRTIOFSD_COMMON_STATUS_MATCHERS_H_
