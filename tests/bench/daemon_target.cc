// A daemon driven over vhost-user with a real split ring (tests/driver), posting
// as a Linux guest does: one indirect table of page-sized pieces per request.
// The driver copies data into and out of guest memory (a guest would not): that
// client cost is in every daemon's column alike.

#include <fcntl.h>
#include <linux/fuse.h>

#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "tests/bench/process_tree.h"
#include "tests/bench/target.h"
#include "tests/driver/daemon.h"
#include "tests/driver/fuse_client.h"
#include "tests/driver/vhost_user_fs_driver.h"

namespace virtiofsd::bench {
namespace {

using driver::AsBytes;
using driver::Daemon;
using driver::FuseCallOptions;
using driver::FuseClient;
using driver::FuseReply;
using driver::VhostUserFsDriver;

std::string Name(absl::string_view name) { return absl::StrCat(name, absl::string_view("\0", 1)); }

class DaemonTarget : public Target {
 public:
  absl::Status Start(const std::string& command, const Share& share, const std::string& work_dir,
                     int queues) {
    share_ = share;
    queues_ = queues;
    const std::string socket = work_dir + "/vhost.sock";
    VFSD_ASSIGN_OR_RETURN(daemon_,
                          Daemon::Start({.argv = Daemon::SplitCommand(absl::StrReplaceAll(
                                             command, {{"{queues}", absl::StrCat(queues)}})),
                                         .socket_path = socket,
                                         .shared_dir = share.path,
                                         .log_path = work_dir + "/daemon.log"}));
    driver::DriverOptions options;
    options.request_queues = queues;
    VFSD_ASSIGN_OR_RETURN(driver_, VhostUserFsDriver::Connect(socket, options));
    fuse_ = std::make_unique<FuseClient>(driver_.get());
    fuse_->set_options(
        FuseCallOptions{.queue = 1,
                        .post = {.indirect = driver_->HasFeature(VIRTIO_RING_F_INDIRECT_DESC),
                                 .max_segment = 4096}});
    VFSD_RETURN_IF_ERROR(fuse_->Init().status());
    VFSD_ASSIGN_OR_RETURN(fuse_entry_out file, fuse_->Lookup(FUSE_ROOT_ID, "file"));
    file_ = file.nodeid;
    VFSD_ASSIGN_OR_RETURN(fuse_open_out open, fuse_->Open(file_, O_RDWR));
    fh_ = open.fh;
    VFSD_ASSIGN_OR_RETURN(fuse_entry_out dir, fuse_->Lookup(FUSE_ROOT_ID, "dir"));
    dir_ = dir.nodeid;
    VFSD_ASSIGN_OR_RETURN(fuse_entry_out fresh, fuse_->Lookup(FUSE_ROOT_ID, "new"));
    new_ = fresh.nodeid;
    return absl::OkStatus();
  }

  ~DaemonTarget() override {
    fuse_.reset();
    driver_.reset();
    daemon_.reset();
  }

  Result Run(const Workload& workload, absl::Duration duration) override {
    Result result;
    if (workload.queues != queues_) {
      result.error = absl::StrCat("the daemon was started for ", queues_, " request queues");
      return result;
    }
    for (absl::Duration span : {absl::Milliseconds(200), duration}) {
      result = Result();
      const absl::StatusOr<std::vector<ProcessUsage>> before = ReadProcessTree(daemon_->pid());
      Recorder recorder;
      const absl::Time begin = absl::Now();
      absl::Status status;
      switch (workload.op) {
        case Op::kCreate:
          status = Cycles(begin + span, &recorder);
          break;
        case Op::kReaddirplus:
          status = Listings(begin + span, &recorder);
          break;
        default:
          status = Pipelined(workload, begin + span, &recorder);
      }
      const absl::Time end = absl::Now();
      const absl::StatusOr<std::vector<ProcessUsage>> after = ReadProcessTree(daemon_->pid());
      if (!status.ok()) {
        result.error = status.ToString();
        return result;
      }
      recorder.Finish(end - begin, &result);
      if (before.ok() && after.ok())
        result.cpu_seconds = TotalCpuSeconds(*after) - TotalCpuSeconds(*before);
    }
    return result;
  }

  std::optional<pid_t> pid() const override { return daemon_->pid(); }
  std::string Log() const override { return daemon_->Log(); }

 private:
  // Keeps `workload.depth` requests in flight until `end`, then drains; each new
  // request goes to the request queue with the fewest in flight. This one thread
  // posts to every queue and reaps every reply.
  absl::Status Pipelined(const Workload& workload, absl::Time end, Recorder* recorder) {
    const std::string data(workload.io_size, 'w');
    const double units = UnitsPerRequest(workload);
    struct InFlight {
      absl::Time posted;
      int queue;
    };
    std::map<uint64_t, InFlight> started;           // unique -> when and where it was posted
    std::vector<int> load(workload.queues + 1, 0);  // requests in flight per queue
    absl::Time now = absl::Now();
    while (now < end || !started.empty()) {
      while (started.size() < static_cast<size_t>(workload.depth) && now < end) {
        int queue = 1;
        for (int q = 2; q <= workload.queues; ++q) {
          if (load[q] < load[queue]) queue = q;
        }
        const absl::Time posted = absl::Now();
        VFSD_ASSIGN_OR_RETURN(uint64_t unique, StartOne(workload, data, queue));
        started[unique] = {posted, queue};
        ++load[queue];
      }
      VFSD_ASSIGN_OR_RETURN(auto reply, fuse_->AwaitAny());
      if (reply.second.error() != 0) return ErrnoError(reply.second.error(), workload.name);
      VFSD_RETURN_IF_ERROR(CheckTransfer(workload, reply.second));
      now = absl::Now();
      const InFlight& done = started[reply.first];
      recorder->Add(now - done.posted, units);
      --load[done.queue];
      started.erase(reply.first);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> StartOne(const Workload& workload, const std::string& data, int queue) {
    FuseCallOptions on = fuse_->options();
    on.queue = queue;
    switch (workload.op) {
      case Op::kGetattr:
        return fuse_->Start(FUSE_GETATTR, file_, {AsBytes(fuse_getattr_in{})},
                            sizeof(fuse_attr_out), on);
      case Op::kLookup:
        return fuse_->Start(FUSE_LOOKUP, FUSE_ROOT_ID, {Name("file")}, sizeof(fuse_entry_out), on);
      default:
        break;
    }
    if (offset_ + workload.io_size > Share::kFileSize) offset_ = 0;
    const uint64_t offset = offset_;
    offset_ += workload.io_size;
    if (workload.op == Op::kRead) {
      fuse_read_in in{};
      in.fh = fh_;
      in.offset = offset;
      in.size = workload.io_size;
      return fuse_->Start(FUSE_READ, file_, {AsBytes(in)}, workload.io_size, on);
    }
    fuse_write_in in{};
    in.fh = fh_;
    in.offset = offset;
    in.size = workload.io_size;
    std::vector<std::string> args;  // built in place: a braced list would copy `data` twice
    args.push_back(AsBytes(in));
    args.push_back(data);
    return fuse_->Start(FUSE_WRITE, file_, std::move(args), sizeof(fuse_write_out), on);
  }

  // Whether a READ reply carries, or a WRITE reply reports, the whole size.
  static absl::Status CheckTransfer(const Workload& workload, const FuseReply& reply) {
    if (workload.op == Op::kRead && reply.body.size() != workload.io_size) {
      return absl::DataLossError(workload.name + ": short read");
    }
    if (workload.op == Op::kWrite) {
      fuse_write_out out{};
      if (reply.body.size() != sizeof(out)) return absl::DataLossError("bad WRITE reply");
      memcpy(&out, reply.body.data(), sizeof(out));
      if (out.size != workload.io_size) return absl::DataLossError(workload.name + ": short write");
    }
    return absl::OkStatus();
  }

  // CREATE, RELEASE, UNLINK, then the FORGET a guest sends when the inode goes.
  absl::Status Cycles(absl::Time end, Recorder* recorder) {
    while (absl::Now() < end) {
      const absl::Time begin = absl::Now();
      const std::string name = absl::StrCat("f", next_name_++);
      VFSD_ASSIGN_OR_RETURN(driver::CreateReply created,
                            fuse_->Create(new_, name, O_RDWR | O_CREAT | O_EXCL, 0100644));
      VFSD_RETURN_IF_ERROR(fuse_->Release(created.entry.nodeid, created.open.fh));
      VFSD_RETURN_IF_ERROR(fuse_->Unlink(new_, name));
      VFSD_RETURN_IF_ERROR(fuse_->Forget(created.entry.nodeid, 1));
      recorder->Add(absl::Now() - begin, 1);
    }
    return absl::OkStatus();
  }

  // Whole listings of "dir", one page per READDIRPLUS; each request is timed.
  absl::Status Listings(absl::Time end, Recorder* recorder) {
    while (absl::Now() < end) {
      VFSD_ASSIGN_OR_RETURN(fuse_open_out dir, fuse_->Opendir(dir_));
      uint64_t offset = 0;
      int names = 0;
      while (true) {
        const absl::Time begin = absl::Now();
        VFSD_ASSIGN_OR_RETURN(std::vector<driver::DirEntry> entries,
                              fuse_->Readdirplus(dir_, dir.fh, offset, 4096));
        recorder->Add(absl::Now() - begin, entries.size());
        if (entries.empty()) break;
        offset = entries.back().off;
        names += entries.size();
      }
      VFSD_RETURN_IF_ERROR(fuse_->Releasedir(dir_, dir.fh));
      if (names != share_.dir_entries && names != share_.dir_entries + 2) {  // "." and ".."?
        return absl::DataLossError(absl::StrCat("READDIRPLUS listed ", names, " names"));
      }
    }
    return absl::OkStatus();
  }

  Share share_;
  int queues_ = 1;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<VhostUserFsDriver> driver_;
  std::unique_ptr<FuseClient> fuse_;
  uint64_t file_ = 0, fh_ = 0, dir_ = 0, new_ = 0;
  uint64_t offset_ = 0;
  uint64_t next_name_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> StartDaemonTarget(const std::string& command,
                                                          const Share& share,
                                                          const std::string& work_dir, int queues) {
  auto target = std::make_unique<DaemonTarget>();
  VFSD_RETURN_IF_ERROR(target->Start(command, share, work_dir, queues));
  return target;
}

}  // namespace virtiofsd::bench
