#include "frontend/testing/session_harness.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace virtiofsd::testing {
namespace {

constexpr size_t kGuestBytes = 64 << 20;

}  // namespace

// Records the one completion of one chain and reads its reply out of guest memory.
class SessionHarness::Completion : public ChainCompleter {
 public:
  Completion(int queue, const uint8_t* reply, size_t room)
      : queue_(queue), reply_(reply), room_(room) {}
  void Complete(uint16_t, uint32_t written) override {
    absl::MutexLock lock(&mu_);
    ++completions_;
    written_ = written;
  }
  int index() const override { return queue_; }
  bool Done() {
    absl::MutexLock lock(&mu_);
    return completions_ > 0;
  }
  FuseReply Wait() {
    FuseReply reply;
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* n) { return *n > 0; }, &completions_),
                              absl::Seconds(10))) {
      return reply;
    }
    EXPECT_EQ(completions_, 1) << "a chain completed more than once";
    reply.completed = true;
    reply.written = written_;
    if (written_ < sizeof(fuse_out_header)) return reply;
    fuse_out_header header;
    memcpy(&header, reply_, sizeof(header));
    EXPECT_EQ(header.len, written_);
    reply.error = -header.error;
    reply.unique = header.unique;
    const size_t size = std::min<size_t>(header.len, room_) - sizeof(header);
    reply.payload.assign(reinterpret_cast<const char*>(reply_) + sizeof(header), size);
    return reply;
  }

 private:
  const int queue_;
  const uint8_t* const reply_;
  const size_t room_;
  absl::Mutex mu_;
  int completions_ = 0;
  uint32_t written_ = 0;
};

SessionHarness::SessionHarness(FuseOptions options, FsConfig config, WorkerPool* pool)
    : config_(config) {
  broker_ = std::make_unique<TestBroker>(dir_.path(), config);
  context_ = std::make_unique<FuseContext>(broker_->client(), options, pool);
  UniqueFd fd(memfd_create("guest", MFD_CLOEXEC));
  EXPECT_EQ(ftruncate(fd.get(), kGuestBytes), 0);
  MemoryRegionSpec spec;
  spec.size = kGuestBytes;
  spec.user_addr = 0x10000000;
  absl::StatusOr<std::shared_ptr<MappedRegion>> region = MappedRegion::Map(spec, std::move(fd));
  EXPECT_TRUE(region.ok()) << region.status();
  memory_ = *std::move(region);
}

SessionHarness::~SessionHarness() {
  for (const auto& completion : completions_) EXPECT_TRUE(completion->Done());
  context_.reset();
  broker_.reset();
}

uint8_t* SessionHarness::Allocate(size_t size) {
  absl::MutexLock lock(&mu_);
  const size_t start = used_;
  used_ += (size + 63) & ~size_t{63};
  EXPECT_LE(used_, kGuestBytes);
  return memory_->host_base() + start;
}

PendingChain SessionHarness::MakeChain(RequestSpec& spec, int& ticket) {
  if (spec.unique == 0) {
    absl::MutexLock lock(&mu_);
    spec.unique = next_unique_++;
  }
  fuse_in_header header{};
  header.len = static_cast<uint32_t>(sizeof(header) + spec.args.size() + spec.write_data.size());
  header.opcode = spec.opcode;
  header.unique = spec.unique;
  header.nodeid = spec.nodeid;
  header.uid = geteuid();
  header.gid = getegid();
  header.pid = getpid();
  DescriptorChain chain;
  uint8_t* request = Allocate(sizeof(header) + spec.args.size());
  memcpy(request, &header, sizeof(header));
  memcpy(request + sizeof(header), spec.args.data(), spec.args.size());
  chain.readable.push_back({request, sizeof(header) + spec.args.size()});
  if (!spec.write_data.empty()) {
    uint8_t* data = Allocate(spec.write_data.size());
    memcpy(data, spec.write_data.data(), spec.write_data.size());
    chain.readable.push_back({data, spec.write_data.size()});
  }
  chain.readable_bytes = header.len;
  uint8_t* reply = Allocate(spec.reply_room);
  const size_t piece = spec.reply_room / spec.reply_pieces;
  for (int i = 0; i < spec.reply_pieces; ++i) {
    const size_t size = i + 1 == spec.reply_pieces ? spec.reply_room - piece * i : piece;
    chain.writable.push_back({reply + piece * i, size});
  }
  chain.writable_bytes = spec.reply_room;
  completions_.push_back(std::make_unique<Completion>(spec.queue, reply, spec.reply_room));
  ticket = static_cast<int>(completions_.size()) - 1;
  return PendingChain(completions_.back().get(), std::move(chain));
}

int SessionHarness::Start(Handler handler, RequestSpec spec) {
  int ticket;
  std::unique_ptr<FuseCall> call = FuseCall::Decode(MakeChain(spec, ticket));
  if (call != nullptr) handler(*context_, std::move(call));
  return ticket;
}

int SessionHarness::Send(ChainHandler& session, RequestSpec spec) {
  int ticket;
  session.HandleChain(MakeChain(spec, ticket));
  return ticket;
}

FuseReply SessionHarness::Wait(int ticket) { return completions_[ticket]->Wait(); }
bool SessionHarness::Done(int ticket) { return completions_[ticket]->Done(); }

FuseReply SessionHarness::Call(Handler handler, RequestSpec spec) {
  return Wait(Start(handler, std::move(spec)));
}

FuseReply SessionHarness::Call(Handler handler, uint32_t opcode, uint64_t nodeid, std::string args,
                               size_t reply_room) {
  RequestSpec spec;
  spec.opcode = opcode;
  spec.nodeid = nodeid;
  spec.args = std::move(args);
  spec.reply_room = reply_room;
  return Call(handler, std::move(spec));
}

SessionHarness::OpenedFile SessionHarness::CreateAndOpen(const std::string& name,
                                                         std::string_view data, int flags) {
  OpenedFile file;
  {
    UniqueFd fd(open(dir_.Path(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  Result lookup = broker_->Lookup(1, name);
  EXPECT_EQ(lookup.error, 0);
  file.node = lookup.reply.entry().node();
  Result open = broker_->Open(file.node, flags);
  EXPECT_EQ(open.error, 0);
  file.handle = open.reply.open().handle();
  context_->open_files().Insert(file.handle, std::move(open.fd), file.node,
                                open.reply.open().kill_priv_on_write());
  return file;
}

void SessionHarness::KillBroker() {
  if (broker_->client().up()) broker_->client().Shutdown("the broker died");
}

void SessionHarness::RestartBroker() {
  KillBroker();
  dead_brokers_.push_back(std::move(broker_));
  broker_ = std::make_unique<TestBroker>(dir_.path(), config_);
  absl::Status replaced = context_->broker_link().Replace(
      std::shared_ptr<BrokerClient>(&broker_->client(), [](BrokerClient*) {}));
  EXPECT_TRUE(replaced.ok()) << replaced;
}

}  // namespace virtiofsd::testing
