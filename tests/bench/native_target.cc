// The host's own syscalls on the share, the least work any daemon must do for
// each row: fstat (GETATTR), fstatat (LOOKUP), openat O_CREAT + close + unlinkat
// (CREATE cycle), getdents64 of 4 KiB + fstatat per name (READDIRPLUS), pread and
// pwrite. Depth N is N threads, each with one syscall in flight.

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "tests/bench/target.h"

namespace virtiofsd::bench {
namespace {

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::ToDoubleSeconds(absl::DurationFromTimeval(usage.ru_utime) +
                               absl::DurationFromTimeval(usage.ru_stime));
}

class NativeTarget : public Target {
 public:
  absl::Status Open(const Share& share) {
    share_ = share;
    root_ = UniqueFd(open(share.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_.valid()) return ErrnoError(errno, "open " + share.path);
    file_ = UniqueFd(openat(root_.get(), "file", O_RDWR | O_CLOEXEC));
    if (!file_.valid()) return ErrnoError(errno, "open file");
    fresh_ = UniqueFd(openat(root_.get(), "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fresh_.valid()) return ErrnoError(errno, "open new");
    return absl::OkStatus();
  }

  Result Run(const Workload& workload, absl::Duration duration) override {
    Result result;
    for (absl::Duration span : {absl::Milliseconds(200), duration}) {
      result = Result();
      const double cpu_before = SelfCpuSeconds();
      const absl::Time begin = absl::Now();
      Recorder total;
      absl::Mutex mu;
      std::string error;
      std::vector<std::thread> threads;
      for (int t = 0; t < workload.depth; ++t) {
        threads.emplace_back([&, t] {
          Recorder mine;
          absl::Status status = Loop(workload, t, begin + span, &mine);
          absl::MutexLock lock(&mu);
          total.Merge(mine);
          if (!status.ok()) error = status.ToString();
        });
      }
      for (std::thread& thread : threads) thread.join();
      const absl::Time end = absl::Now();
      if (!error.empty()) {
        result.error = error;
        return result;
      }
      total.Finish(end - begin, &result);
      result.cpu_seconds = SelfCpuSeconds() - cpu_before;
    }
    return result;
  }

  std::optional<pid_t> pid() const override { return std::nullopt; }
  std::string Log() const override { return ""; }

 private:
  absl::Status Loop(const Workload& workload, int thread, absl::Time end, Recorder* recorder) {
    const std::string data(workload.io_size, 'w');
    std::string buffer(std::max<uint32_t>(workload.io_size, 4096), '\0');
    const double units = UnitsPerRequest(workload);
    // Each thread works its own stretch of the file.
    uint64_t offset = thread * (Share::kFileSize / 16);
    uint64_t serial = 0;
    while (absl::Now() < end) {
      const absl::Time begin = absl::Now();
      struct stat st;
      switch (workload.op) {
        case Op::kGetattr:
          if (fstat(file_.get(), &st) != 0) return ErrnoError(errno, "fstat");
          break;
        case Op::kLookup:
          if (fstatat(root_.get(), "file", &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return ErrnoError(errno, "fstatat");
          }
          break;
        case Op::kCreate: {
          const std::string name = absl::StrCat("n", thread, "-", serial++);
          UniqueFd fd(
              openat(fresh_.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
          if (!fd.valid()) return ErrnoError(errno, "openat O_CREAT");
          fd.Reset();
          if (unlinkat(fresh_.get(), name.c_str(), 0) != 0) return ErrnoError(errno, "unlinkat");
          break;
        }
        case Op::kReaddirplus:
          VFSD_RETURN_IF_ERROR(Listing(&buffer, recorder));
          continue;  // timed per getdents64 inside
        case Op::kRead:
        case Op::kWrite: {
          if (offset + workload.io_size > Share::kFileSize) offset = 0;
          const ssize_t done = workload.op == Op::kRead
                                   ? pread(file_.get(), buffer.data(), workload.io_size, offset)
                                   : pwrite(file_.get(), data.data(), workload.io_size, offset);
          if (done != static_cast<ssize_t>(workload.io_size))
            return ErrnoError(errno, "pread/pwrite");
          offset += workload.io_size;
          break;
        }
      }
      recorder->Add(absl::Now() - begin, units);
    }
    return absl::OkStatus();
  }

  // One whole listing of "dir": each getdents64 of 4 KiB plus an fstatat per
  // name it returned is one timed request.
  absl::Status Listing(std::string* buffer, Recorder* recorder) {
    UniqueFd dir(openat(root_.get(), "dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) return ErrnoError(errno, "open dir");
    while (true) {
      const absl::Time begin = absl::Now();
      const long got = syscall(SYS_getdents64, dir.get(), buffer->data(), 4096);
      if (got < 0) return ErrnoError(errno, "getdents64");
      int names = 0;
      for (long pos = 0; pos < got;) {
        const auto* entry = reinterpret_cast<const dirent64*>(buffer->data() + pos);
        struct stat st;
        if (fstatat(dir.get(), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          return ErrnoError(errno, "fstatat");
        }
        ++names;
        pos += entry->d_reclen;
      }
      recorder->Add(absl::Now() - begin, names);
      if (got == 0) return absl::OkStatus();
    }
  }

  Share share_;
  UniqueFd root_, file_, fresh_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> StartNativeTarget(const Share& share) {
  auto target = std::make_unique<NativeTarget>();
  VFSD_RETURN_IF_ERROR(target->Open(share));
  return target;
}

}  // namespace virtiofsd::bench
