// Fuzzes the FUSE session against a live broker: each input is a sequence of
// FUSE requests that a real FuseSession decodes and forwards through a real
// BrokerClient to a real Server and FileSystem serving a fresh temp dir over a
// socket pair, so the broker's replies (errors included) flow back through the
// session's encoders. Node ids and handles below 16 in a request stand for the
// ones earlier replies of the same input returned, so sequences such as LOOKUP,
// OPEN, READ reach deep. Aborts if a chain is not completed exactly once, if a
// reply does not fit its buffer or has a bad header, if a request hangs, if
// anything outside the share changed, or if an fd outlives the run.
//
// Input: records of [length: 2 bytes LE][flags: 1 byte][request bytes]; flags
// bit 0 makes the header's length agree with the bytes, bits 1..7 split the
// request into two buffers. At most kMaxRequests records are used.

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/filesystem.h"
#include "broker/server.h"
#include "common/channel/broker_client.h"
#include "common/channel/frame_socket.h"
#include "common/logging.h"
#include "common/unique_fd.h"
#include "frontend/fuse_session.h"

namespace virtiofsd {
namespace {

constexpr int kMaxRequests = 16;
constexpr size_t kReplyBytes = 8192;
// Ids below this in a request name an earlier reply's node or handle.
constexpr uint64_t kSymbolicIds = 16;

int LowestFreeFd() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(fd);
  return fd;
}

void RemoveTree(const std::string& path) {
  nftw(
      path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); },
      16, FTW_DEPTH | FTW_PHYS);
}

void WriteFile(const std::string& path, std::string_view data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid() || write(fd.get(), data.data(), data.size()) < 0) abort();
}

std::string Outside(const std::string& base) {
  std::string names;
  DIR* dir = opendir(base.c_str());
  while (dirent* e = readdir(dir)) names += std::string(e->d_name) + "/";
  closedir(dir);
  struct stat st;
  stat((base + "/outside").c_str(), &st);
  return names + std::to_string(st.st_size) + ":" + std::to_string(st.st_mode) + ":" +
         std::to_string(st.st_nlink);
}

// Waits for the one completion of one chain (on whatever thread replies).
class Completion : public ChainCompleter {
 public:
  void Complete(uint16_t, uint32_t written) override {
    absl::MutexLock lock(&mu_);
    ++completions_;
    written_ = written;
  }
  int index() const override { return 1; }
  // The bytes written; aborts on a hang (a request no reply ever ends).
  uint32_t Wait() {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* n) { return *n > 0; }, &completions_),
                              absl::Seconds(10))) {
      abort();
    }
    return written_;
  }
  int completions() {
    absl::MutexLock lock(&mu_);
    return completions_;
  }

 private:
  absl::Mutex mu_;
  int completions_ = 0;
  uint32_t written_ = 0;
};

bool FhFirst(uint32_t opcode) {
  switch (opcode) {
    case FUSE_READ:
    case FUSE_WRITE:
    case FUSE_RELEASE:
    case FUSE_FLUSH:
    case FUSE_FSYNC:
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
    case FUSE_RELEASEDIR:
    case FUSE_FSYNCDIR:
    case FUSE_GETLK:
    case FUSE_SETLK:
    case FUSE_LSEEK:
    case FUSE_FALLOCATE:
    case FUSE_COPY_FILE_RANGE:
      return true;
    default:
      return false;
  }
}

bool ReturnsEntry(uint32_t opcode) {
  return opcode == FUSE_LOOKUP || opcode == FUSE_MKDIR || opcode == FUSE_MKNOD ||
         opcode == FUSE_SYMLINK || opcode == FUSE_LINK || opcode == FUSE_CREATE;
}

class Run {
 public:
  explicit Run(const std::string& share) {
    UniqueFd dir(open(share.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    FsConfig config;
    config.xattr = true;
    config.fd_budget = 64;
    auto fs = FileSystem::Create(std::move(dir), std::move(proc), config);
    auto pair = FrameSocket::CreatePair();
    if (!fs.ok() || !pair.ok()) abort();
    fs_ = *std::move(fs);
    server_socket_ = std::make_unique<FrameSocket>(std::move(pair->second));
    server_ = std::make_unique<Server>(*server_socket_, *fs_, 2);
    serving_ = std::thread([this] { server_->Run().IgnoreError(); });
    client_ = std::make_unique<BrokerClient>(std::move(pair->first));
    proto::Request handshake;
    handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
    if (!client_->Call(std::move(handshake)).ok()) abort();
    session_ = std::make_unique<FuseSession>(*client_, FuseOptions{});
    fuse_init_in init{};
    init.major = FUSE_KERNEL_VERSION;
    init.minor = FUSE_KERNEL_MINOR_VERSION;
    init.max_readahead = 1 << 20;
    Send(FUSE_INIT, std::string(reinterpret_cast<char*>(&init), sizeof(init)));
    if (!session_->initialized()) abort();
  }

  ~Run() {
    session_.reset();
    client_.reset();  // Closes the channel: the server's threads end.
    serving_.join();
  }

  // One fuzzed request record.
  void Request(std::string request, uint8_t flags) {
    if (request.size() >= sizeof(fuse_in_header)) {
      fuse_in_header header;
      memcpy(&header, request.data(), sizeof(header));
      if (flags & 1) header.len = static_cast<uint32_t>(request.size());
      // A lock wait nobody ends would hang the run: make it a plain SETLK.
      if (header.opcode == FUSE_SETLKW) header.opcode = FUSE_SETLK;
      if (header.nodeid < kSymbolicIds) header.nodeid = nodes_[header.nodeid % nodes_.size()];
      memcpy(request.data(), &header, sizeof(header));
      uint64_t fh;
      if (FhFirst(header.opcode) && !handles_.empty() &&
          request.size() >= sizeof(header) + sizeof(fh)) {
        memcpy(&fh, request.data() + sizeof(header), sizeof(fh));
        if (fh < kSymbolicIds) {
          fh = handles_[fh % handles_.size()];
          memcpy(request.data() + sizeof(header), &fh, sizeof(fh));
        }
      }
    }
    Handle(request, flags >> 1);
  }

 private:
  void Send(uint32_t opcode, const std::string& args) {
    fuse_in_header header{};
    header.len = static_cast<uint32_t>(sizeof(header) + args.size());
    header.opcode = opcode;
    header.unique = 2;
    header.nodeid = 1;
    Handle(std::string(reinterpret_cast<char*>(&header), sizeof(header)) + args, 0);
  }

  void Handle(const std::string& input, size_t split) {
    split = std::min(split, input.size());
    DescriptorChain chain;
    for (auto [from, to] : {std::pair{size_t{0}, split}, {split, input.size()}}) {
      if (to > from) chain.readable.push_back({const_cast<char*>(input.data()) + from, to - from});
    }
    chain.readable_bytes = input.size();
    std::string reply(kReplyBytes, '\0');
    chain.writable.push_back({reply.data(), reply.size()});
    chain.writable_bytes = reply.size();
    Completion completion;
    session_->HandleChain(PendingChain(&completion, std::move(chain)));
    const uint32_t written = completion.Wait();
    if (completion.completions() != 1 || written > reply.size()) abort();
    if (written == 0) return;
    fuse_out_header out;
    if (written < sizeof(out)) abort();
    memcpy(&out, reply.data(), sizeof(out));
    if (out.len != written || out.error > 0 || out.error < -4095) abort();
    if (out.error != 0 || input.size() < sizeof(fuse_in_header)) return;
    fuse_in_header in;
    memcpy(&in, input.data(), sizeof(in));
    const char* body = reply.data() + sizeof(out);
    const size_t body_size = written - sizeof(out);
    if (ReturnsEntry(in.opcode) && body_size >= sizeof(fuse_entry_out)) {
      fuse_entry_out entry;
      memcpy(&entry, body, sizeof(entry));
      if (nodes_.size() < kSymbolicIds) nodes_.push_back(entry.nodeid);
      if (in.opcode == FUSE_CREATE && body_size >= sizeof(entry) + sizeof(fuse_open_out)) {
        fuse_open_out open;
        memcpy(&open, body + sizeof(entry), sizeof(open));
        if (handles_.size() < kSymbolicIds) handles_.push_back(open.fh);
      }
    } else if ((in.opcode == FUSE_OPEN || in.opcode == FUSE_OPENDIR) &&
               body_size >= sizeof(fuse_open_out)) {
      fuse_open_out open;
      memcpy(&open, body, sizeof(open));
      if (handles_.size() < kSymbolicIds) handles_.push_back(open.fh);
    }
  }

  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<FrameSocket> server_socket_;
  std::unique_ptr<Server> server_;
  std::thread serving_;
  std::unique_ptr<BrokerClient> client_;
  std::unique_ptr<FuseSession> session_;
  std::vector<uint64_t> nodes_ = {FUSE_ROOT_ID};
  std::vector<uint64_t> handles_;
};

// True when some record holds a header with a plausible opcode: inputs of pure
// garbage only test decoding (fuse_session_fuzzer does that) and are skipped,
// which keeps the regression test's random inputs cheap.
bool HasRequest(std::string_view input) {
  for (int i = 0; i < kMaxRequests && input.size() >= 3; ++i) {
    const size_t size = std::min<size_t>(
        static_cast<uint8_t>(input[0]) | static_cast<uint8_t>(input[1]) << 8, input.size() - 3);
    fuse_in_header header;
    if (size >= sizeof(header)) {
      memcpy(&header, input.data() + 3, sizeof(header));
      if (header.opcode <= CUSE_INIT) return true;
    }
    input.remove_prefix(3 + size);
  }
  return false;
}

void RunOne(std::string_view input) {
  if (!HasRequest(input)) return;
  const char* tmp = getenv("TEST_TMPDIR");
  std::string base = std::string(tmp != nullptr ? tmp : "/tmp") + "/fuse_live_fuzz.XXXXXX";
  if (mkdtemp(base.data()) == nullptr) abort();
  const std::string share = base + "/share";
  mkdir(share.c_str(), 0755);
  mkdir((share + "/d").c_str(), 0755);
  WriteFile(share + "/f", "file data");
  WriteFile(base + "/outside", "outside");
  symlink((base + "/outside").c_str(), (share + "/l").c_str());
  mkfifo((share + "/p").c_str(), 0644);
  const std::string outside_before = Outside(base);
  const int free_before = LowestFreeFd();
  {
    Run run(share);
    for (int i = 0; i < kMaxRequests && input.size() >= 3; ++i) {
      const size_t size = std::min<size_t>(
          static_cast<uint8_t>(input[0]) | static_cast<uint8_t>(input[1]) << 8, input.size() - 3);
      const uint8_t flags = static_cast<uint8_t>(input[2]);
      std::string request(input.substr(3, size));
      input.remove_prefix(3 + size);
      run.Request(std::move(request), flags);
    }
  }
  if (LowestFreeFd() != free_before) abort();
  if (Outside(base) != outside_before) abort();
  RemoveTree(base);
}

}  // namespace
}  // namespace virtiofsd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    virtiofsd::InitLogging("fuse_live_fuzzer", virtiofsd::LogLevel::kOff);
    return true;
  }();
  (void)quiet;
  virtiofsd::RunOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
