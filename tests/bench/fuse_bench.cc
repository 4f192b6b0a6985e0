// Benchmark (not a test): FUSE request rates of vhost-user-fs back-ends, side by
// side, driven by the test driver exactly as a guest would (QEMU 7.2 negotiation,
// indirect chains of page-sized buffers). One column per --daemon, all in one run
// (commands split on spaces; {socket} and {dir} are filled in; absolute paths,
// since `bazel run` starts in the runfiles tree):
//
//   bazel run -c opt //tests/bench:fuse_bench --
//     --daemon='/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir} -o cache=auto'
//     --daemon='/abs/path/to/virtiofsd --socket-path={socket} --shared-dir={dir}'
//     [--seconds=2]
//
// Rows: GETATTR and LOOKUP (ops/s), READ and WRITE of 1 MiB (MB/s), each at queue
// depth 1 and 16, with the median and 99th percentile time a request is in flight
// (posted to reply). Every reply is checked; a failing daemon gets "error" in its
// column and its log on stderr. The machine is noisy: compare columns of one run.
// The driver copies data into and out of guest memory (a guest would not): that
// client cost is in every column alike.

#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "tests/driver/daemon.h"
#include "tests/driver/fuse_client.h"
#include "tests/driver/vhost_user_fs_driver.h"

namespace virtiofsd {
namespace {

using driver::AsBytes;
using driver::Daemon;
using driver::FuseCallOptions;
using driver::FuseClient;
using driver::FuseReply;
using driver::VhostUserFsDriver;

constexpr uint32_t kIoSize = 1 << 20;
constexpr uint64_t kFileSize = 64ull << 20;  // READ/WRITE offsets cycle through it

struct Workload {
  std::string name;
  int depth;
  bool bytes;  // report MB/s instead of ops/s
};

const Workload kWorkloads[] = {
    {"GETATTR", 1, false},   {"GETATTR", 16, false},   {"LOOKUP", 1, false},
    {"LOOKUP", 16, false},   {"READ 1MiB", 1, true},   {"READ 1MiB", 16, true},
    {"WRITE 1MiB", 1, true}, {"WRITE 1MiB", 16, true},
};

struct Result {
  double per_second = 0;  // ops/s, or MB/s for byte workloads
  double p50_us = 0;      // time a request spends in flight: median...
  double p99_us = 0;      // ...and 99th percentile
  std::string error;
};

// Whether a READ reply carries, or a WRITE reply reports, the whole kIoSize.
bool FullTransfer(const Workload& workload, const FuseReply& reply) {
  if (absl::StartsWith(workload.name, "READ")) return reply.body.size() == kIoSize;
  fuse_write_out out{};
  if (reply.body.size() != sizeof(out)) return false;
  memcpy(&out, reply.body.data(), sizeof(out));
  return out.size == kIoSize;
}

// One daemon under test: its process, the driver connection, an open file.
class Target {
 public:
  static absl::StatusOr<std::unique_ptr<Target>> Start(const std::string& command) {
    auto target = std::unique_ptr<Target>(new Target);
    char dir[] = "/tmp/fuse-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) return ErrnoError(errno, "mkdtemp");
    target->dir_ = dir;
    const std::string shared = target->dir_ + "/shared";
    std::filesystem::create_directory(shared);
    {
      std::ofstream file(shared + "/file", std::ios::binary);
      std::string chunk(kIoSize, 'x');
      for (uint64_t done = 0; done < kFileSize; done += kIoSize) file << chunk;
    }
    VFSD_ASSIGN_OR_RETURN(target->daemon_,
                          Daemon::Start({.argv = Daemon::SplitCommand(command),
                                         .socket_path = target->dir_ + "/vhost.sock",
                                         .shared_dir = shared,
                                         .log_path = target->dir_ + "/daemon.log"}));
    VFSD_ASSIGN_OR_RETURN(target->driver_,
                          VhostUserFsDriver::Connect(target->dir_ + "/vhost.sock", {}));
    target->fuse_ = std::make_unique<FuseClient>(target->driver_.get());
    // As a Linux guest posts: one indirect table of page-sized pieces.
    target->fuse_->set_options(FuseCallOptions{
        .queue = 1,
        .post = {.indirect = target->driver_->HasFeature(VIRTIO_RING_F_INDIRECT_DESC),
                 .max_segment = 4096}});
    VFSD_RETURN_IF_ERROR(target->fuse_->Init().status());
    VFSD_ASSIGN_OR_RETURN(fuse_entry_out entry, target->fuse_->Lookup(FUSE_ROOT_ID, "file"));
    target->file_ = entry.nodeid;
    VFSD_ASSIGN_OR_RETURN(fuse_open_out open, target->fuse_->Open(entry.nodeid, O_RDWR));
    target->fh_ = open.fh;
    return target;
  }

  ~Target() {
    fuse_.reset();
    driver_.reset();
    daemon_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Result Run(const Workload& workload, absl::Duration duration) {
    uint64_t offset = 0;
    const std::string data(kIoSize, 'w');
    // Starts one request of the workload; returns its unique.
    std::function<absl::StatusOr<uint64_t>()> start;
    if (workload.name == "GETATTR") {
      start = [&] {
        return fuse_->Start(FUSE_GETATTR, file_, {AsBytes(fuse_getattr_in{})},
                            sizeof(fuse_attr_out));
      };
    } else if (workload.name == "LOOKUP") {
      start = [&] {
        return fuse_->Start(FUSE_LOOKUP, FUSE_ROOT_ID, {std::string("file", 5)},
                            sizeof(fuse_entry_out));
      };
    } else {
      const bool read = absl::StartsWith(workload.name, "READ");
      start = [&, read] {
        fuse_read_in in{};  // fuse_write_in has the same first fields
        in.fh = fh_;
        in.offset = offset;
        in.size = kIoSize;
        offset = (offset + kIoSize) % kFileSize;
        if (read) return fuse_->Start(FUSE_READ, file_, {AsBytes(in)}, kIoSize);
        fuse_write_in write{};
        write.fh = fh_;
        write.offset = in.offset;
        write.size = kIoSize;
        std::vector<std::string> args;  // built in place: a braced list would copy `data` twice
        args.push_back(AsBytes(write));
        args.push_back(data);
        return fuse_->Start(FUSE_WRITE, file_, std::move(args), sizeof(fuse_write_out));
      };
    }
    Result result;
    auto fail = [&](const absl::Status& status) {
      result.error = status.ToString();
      return result;
    };
    // Warm up, then measure.
    for (absl::Duration span : {absl::Milliseconds(200), duration}) {
      std::map<uint64_t, absl::Time> started;  // unique -> when it was posted
      std::vector<double> micros;
      const absl::Time begin = absl::Now();
      const absl::Time end = begin + span;
      absl::Time now = begin;
      while (now < end || !started.empty()) {
        while (started.size() < static_cast<size_t>(workload.depth) && now < end) {
          const absl::Time posted = absl::Now();
          absl::StatusOr<uint64_t> unique = start();
          if (!unique.ok()) return fail(unique.status());
          started[*unique] = posted;
        }
        absl::StatusOr<std::pair<uint64_t, FuseReply>> reply = fuse_->AwaitAny();
        if (!reply.ok()) return fail(reply.status());
        if (reply->second.error() != 0) {
          return fail(ErrnoError(reply->second.error(), workload.name));
        }
        if (workload.bytes && !FullTransfer(workload, reply->second)) {
          return fail(absl::DataLossError(workload.name + ": short transfer"));
        }
        now = absl::Now();
        micros.push_back(absl::ToDoubleMicroseconds(now - started[reply->first]));
        started.erase(reply->first);
      }
      const double seconds = absl::ToDoubleSeconds(now - begin);
      result.per_second = micros.size() / seconds;
      if (workload.bytes) result.per_second *= kIoSize / 1e6;
      std::sort(micros.begin(), micros.end());
      result.p50_us = micros[micros.size() / 2];
      result.p99_us = micros[micros.size() * 99 / 100];
    }
    return result;
  }

  std::string Log() const { return daemon_ != nullptr ? daemon_->Log() : ""; }

 private:
  std::string dir_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<VhostUserFsDriver> driver_;
  std::unique_ptr<FuseClient> fuse_;
  uint64_t file_ = 0;
  uint64_t fh_ = 0;
};

int Main(int argc, char** argv) {
  std::vector<std::string> commands;
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--daemon=")) {
      commands.emplace_back(arg);
      continue;
    }
    if (absl::ConsumePrefix(&arg, "--seconds=") && absl::SimpleAtod(arg, &seconds)) continue;
    fprintf(stderr,
            "usage: fuse_bench --daemon='CMD with {socket} and {dir}' [--daemon=...] "
            "[--seconds=2]\n");
    return 2;
  }
  if (commands.empty()) {
    commands.push_back(
        "/usr/lib/qemu/virtiofsd --socket-path={socket} -o source={dir} -o cache=auto");
  }
  // results[workload][daemon]
  std::vector<std::vector<Result>> results(std::size(kWorkloads),
                                           std::vector<Result>(commands.size()));
  for (size_t d = 0; d < commands.size(); ++d) {
    absl::StatusOr<std::unique_ptr<Target>> target = Target::Start(commands[d]);
    for (size_t w = 0; w < std::size(kWorkloads); ++w) {
      if (!target.ok()) {
        results[w][d].error = target.status().ToString();
        continue;
      }
      results[w][d] = (*target)->Run(kWorkloads[w], absl::Seconds(seconds));
    }
    if (!target.ok())
      fprintf(stderr, "daemon %zu: %s\n", d + 1, target.status().ToString().c_str());
    for (const auto& row : results) {
      if (!row[d].error.empty() && target.ok()) {
        fprintf(stderr, "daemon %zu: %s\nlog:\n%s\n", d + 1, row[d].error.c_str(),
                (*target)->Log().c_str());
        break;
      }
    }
  }

  for (size_t d = 0; d < commands.size(); ++d)
    printf("daemon %zu: %s\n", d + 1, commands[d].c_str());
  printf("\n%-22s", "workload");
  for (size_t d = 0; d < commands.size(); ++d)
    printf(" %28s", absl::StrFormat("daemon %d (p50/p99 us)", d + 1).c_str());
  printf("\n");
  for (size_t w = 0; w < std::size(kWorkloads); ++w) {
    const Workload& workload = kWorkloads[w];
    printf("%-22s", absl::StrFormat("%s qd%d", workload.name, workload.depth).c_str());
    for (const Result& r : results[w]) {
      std::string cell = !r.error.empty() ? "error"
                         : workload.bytes ? absl::StrFormat("%.0f MB/s", r.per_second)
                                          : absl::StrFormat("%.0f ops/s", r.per_second);
      if (r.error.empty()) cell += absl::StrFormat(" %5.0f/%-5.0f", r.p50_us, r.p99_us);
      printf(" %28s", cell.c_str());
    }
    printf("\n");
  }
  printf("\n(p50/p99 us: time one request spends in flight, posted to reply)\n");
  return 0;
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) { return virtiofsd::Main(argc, argv); }
