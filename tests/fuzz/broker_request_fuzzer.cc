// Fuzzes the broker's request handling as a hostile frontend drives it: the input
// is a sequence of frames (each: one length byte, then that many bytes of what
// should be a RequestBatch), sent after a handshake through a real socket pair to a real Server and
// FileSystem serving a fresh temp dir. Aborts if a reply breaks the protocol, if a returned fd is
// anything but a regular file, if anything outside the share changed, or if an fd outlives the run.

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/filesystem.h"
#include "broker/server.h"
#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"
#include "common/logging.h"
#include "common/unique_fd.h"

namespace virtiofsd {
namespace {

constexpr int kMaxFrames = 24;

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

// Checks a frame of replies; returns how many it held.
int CheckReplies(Frame& frame) {
  absl::StatusOr<std::vector<BrokerResponse>> responses = DecodeReplies(frame);
  if (!responses.ok()) abort();
  for (const BrokerResponse& response : *responses) {
    if (!response.fd.valid()) continue;
    struct stat st;
    if (fstat(response.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) abort();
    if (fcntl(response.fd.get(), F_GETFL) & O_PATH) abort();
  }
  return static_cast<int>(responses->size());
}

// The replies the broker owes for a frame of `bytes`: one per request that gets
// one, if the frame is a valid batch (else the broker ends the channel).
int RepliesDue(const std::string& bytes) {
  proto::RequestBatch batch;
  if (!batch.ParseFromString(bytes)) return 0;
  int due = 0;
  for (const proto::Request& request : batch.requests()) {
    if (request.op_case() == proto::Request::OP_NOT_SET) return 0;
    if ((request.id() == 0) != IsOneWay(request.op_case())) return 0;
    if (request.id() != 0) ++due;
  }
  return due;
}

// True when some frame of `input` holds a request with an operation: inputs of pure
// garbage only test the framing (frame_decode_fuzzer does that) and are skipped,
// which keeps the regression test's random inputs cheap.
bool HasRequest(std::string_view input) {
  for (int i = 0; i < kMaxFrames && !input.empty(); ++i) {
    const size_t size = std::min<size_t>(static_cast<uint8_t>(input[0]), input.size() - 1);
    proto::RequestBatch batch;
    if (batch.ParseFromArray(input.data() + 1, static_cast<int>(size))) {
      for (const proto::Request& request : batch.requests()) {
        if (request.op_case() != proto::Request::OP_NOT_SET) return true;
      }
    }
    input.remove_prefix(1 + size);
  }
  return false;
}

void RunOne(std::string_view input) {
  if (!HasRequest(input)) return;
  const char* tmp = getenv("TEST_TMPDIR");
  std::string base = std::string(tmp != nullptr ? tmp : "/tmp") + "/broker_fuzz.XXXXXX";
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
    UniqueFd dir(open(share.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd proc(open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    FsConfig config;
    config.xattr = true;
    config.fd_budget = 64;
    auto fs = FileSystem::Create(std::move(dir), std::move(proc), config);
    if (!fs.ok()) abort();
    auto pair = FrameSocket::CreatePair();
    if (!pair.ok()) abort();
    FrameSocket client = std::move(pair->first);
    FrameSocket server_end = std::move(pair->second);
    // A reply that never comes (a SETLKW nobody unlocks) ends the run, not the fuzzer.
    timeval timeout = {0, 200 * 1000};
    setsockopt(client.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    {
      Server server(server_end, **fs, 2);
      std::thread serving([&] { server.Run().IgnoreError(); });
      proto::Request handshake;
      handshake.set_id(1);
      handshake.mutable_handshake()->set_version(proto::PROTOCOL_VERSION_CURRENT);
      Frame frame;
      if (!SendRequest(client, handshake).ok() || !client.Receive(frame).ok()) abort();
      if (CheckReplies(frame) != 1) abort();
      for (int i = 0; i < kMaxFrames && !input.empty(); ++i) {
        const size_t size = std::min<size_t>(static_cast<uint8_t>(input[0]), input.size() - 1);
        const std::string bytes(input.substr(1, size));
        input.remove_prefix(1 + size);
        if (bytes.empty()) continue;
        int due = RepliesDue(bytes);
        if (!client.Send(bytes).ok()) break;
        while (due > 0 && client.Receive(frame).ok()) due -= CheckReplies(frame);
        if (due > 0) break;
      }
      client.Shutdown();
      serving.join();
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
    virtiofsd::InitLogging("broker_request_fuzzer", virtiofsd::LogLevel::kOff);
    return true;
  }();
  (void)quiet;
  virtiofsd::RunOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
