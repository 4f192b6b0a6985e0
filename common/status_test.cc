#include "common/status.h"

#include <errno.h>

#include "common/status_matchers.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

using ::virtiofsd::testing::HasErrno;
using ::virtiofsd::testing::IsOk;
using ::virtiofsd::testing::StatusIs;

TEST(StatusTest, ErrnoErrorKeepsErrnosThatShareACode) {
  // absl maps all three to kPermissionDenied; FUSE needs them apart.
  for (int err : {EPERM, EACCES, EROFS, ENOENT, ENAMETOOLONG, ELOOP}) {
    absl::Status status = ErrnoError(err, "openat");
    EXPECT_EQ(ErrnoOf(status), err) << status;
    EXPECT_EQ(status.code(), absl::ErrnoToStatusCode(err));
  }
}

TEST(StatusTest, MessageNamesTheCallAndTheError) {
  absl::Status status = ErrnoError(ENOENT, "openat foo");
  EXPECT_EQ(status.message(), "openat foo: No such file or directory");
}

TEST(StatusTest, ErrnoOfStatusWithoutPayloadFollowsTheCode) {
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(ErrnoOf(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(ErrnoOf(absl::InvalidArgumentError("x")), EINVAL);
  EXPECT_EQ(ErrnoOf(absl::UnimplementedError("x")), ENOSYS);
  EXPECT_EQ(ErrnoOf(absl::DataLossError("x")), EIO);
}

absl::Status FailIf(bool fail) { return fail ? ErrnoError(EBADF, "x") : absl::OkStatus(); }

absl::Status UsesReturnIfError(bool fail, int* reached) {
  VFSD_RETURN_IF_ERROR(FailIf(fail));
  ++*reached;
  return absl::OkStatus();
}

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return ErrnoError(EINVAL, "odd");
  return n / 2;
}

absl::StatusOr<int> Quarter(int n) {
  VFSD_ASSIGN_OR_RETURN(int half, Half(n));
  VFSD_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, ReturnIfErrorReturnsEarly) {
  int reached = 0;
  EXPECT_THAT(UsesReturnIfError(true, &reached), HasErrno(EBADF));
  EXPECT_EQ(reached, 0);
  EXPECT_THAT(UsesReturnIfError(false, &reached), IsOk());
  EXPECT_EQ(reached, 1);
}

TEST(StatusTest, AssignOrReturnPropagatesTheError) {
  EXPECT_THAT(Quarter(6), HasErrno(EINVAL));
  ASSERT_OK_AND_ASSIGN(int quarter, Quarter(8));
  EXPECT_EQ(quarter, 2);
}

TEST(StatusTest, MatchersRejectWhatTheyShould) {
  EXPECT_THAT(absl::NotFoundError("x"), ::testing::Not(IsOk()));
  EXPECT_THAT(absl::NotFoundError("x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::NotFoundError("x"), ::testing::Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(ErrnoError(EACCES, "x"), ::testing::Not(HasErrno(EPERM)));
}

}  // namespace
}  // namespace virtiofsd
