// Benchmark (not a test): round-trip latency and messages per second of the
// frontend <-> broker channel, with and without an fd attached to the reply.
// The broker end runs in a forked child process, as in production, so every
// round trip pays the real cross-process wake-ups.
//
//   bazel run -c opt //tests/bench:channel_bench [-- --iterations=20000]

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/channel/broker_client.h"
#include "common/channel/broker_wire.h"
#include "common/channel/frame_socket.h"

namespace virtiofsd {
namespace {

// The broker side: GETATTR answered with attributes, OPEN with a memfd.
[[noreturn]] void ServeEcho(FrameSocket socket) {
  UniqueFd file(memfd_create("bench", MFD_CLOEXEC));
  Frame frame;
  while (socket.Receive(frame).ok()) {
    absl::StatusOr<proto::Request> request = DecodeRequest(frame);
    if (!request.ok()) _exit(1);
    proto::Reply reply;
    reply.set_id(request->id());
    int fd = -1;
    if (request->has_open()) {
      reply.mutable_open()->set_handle(request->open().node());
      fd = file.get();
    } else {
      proto::Attr* attr = reply.mutable_attr()->mutable_attr();
      attr->set_ino(request->getattr().node());
      attr->set_mode(0100644);
      attr->set_size(4096);
    }
    if (!SendReply(socket, reply, fd).ok()) _exit(1);
  }
  _exit(0);
}

proto::Request MakeRequest(bool with_fd, uint64_t node) {
  proto::Request request;
  request.mutable_caller()->set_uid(1000);
  request.mutable_caller()->set_gid(1000);
  if (with_fd) {
    request.mutable_open()->set_node(node);
  } else {
    request.mutable_getattr()->set_node(node);
  }
  return request;
}

void Latency(BrokerClient& client, bool with_fd, int iterations) {
  std::vector<double> micros;
  micros.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    absl::Time start = absl::Now();
    absl::StatusOr<BrokerResponse> response = client.Call(MakeRequest(with_fd, i + 1));
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!response.ok()) {
      fprintf(stderr, "call failed: %s\n", response.status().ToString().c_str());
      exit(1);
    }
  }
  std::sort(micros.begin(), micros.end());
  double sum = 0;
  for (double m : micros) sum += m;
  printf("%-26s %10.1f %10.1f %10.1f %12.0f\n",
         with_fd ? "round trip, reply+fd" : "round trip, no fd", sum / iterations,
         micros[iterations / 2], micros[iterations * 99 / 100], iterations / (sum / 1e6));
}

// `depth` requests kept in flight from one thread through Submit().
void Throughput(BrokerClient& client, bool with_fd, int depth, int iterations) {
  absl::Mutex mu;
  absl::CondVar changed;
  int in_flight = 0;
  int completed = 0;
  absl::Time start = absl::Now();
  for (int i = 0; i < iterations; ++i) {
    {
      absl::MutexLock lock(&mu);
      while (in_flight >= depth) changed.Wait(&mu);
      ++in_flight;
    }
    absl::StatusOr<uint64_t> sent =
        client.Submit(MakeRequest(with_fd, i + 1), [&](absl::StatusOr<BrokerResponse> response) {
          if (!response.ok()) exit(1);
          absl::MutexLock lock(&mu);
          --in_flight;
          ++completed;
          changed.Signal();
        });
    if (!sent.ok()) exit(1);
  }
  {
    absl::MutexLock lock(&mu);
    while (completed < iterations) changed.Wait(&mu);
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  char label[64];
  snprintf(label, sizeof(label), "depth %d, %s", depth, with_fd ? "reply+fd" : "no fd");
  printf("%-26s %10.1f %10s %10s %12.0f\n", label, seconds * 1e6 / iterations, "-", "-",
         iterations / seconds);
}

}  // namespace
}  // namespace virtiofsd

int main(int argc, char** argv) {
  using namespace virtiofsd;
  int iterations = 20000;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--iterations=", 13) == 0) iterations = atoi(argv[i] + 13);
  }
  if (iterations < 100) {
    fprintf(stderr, "--iterations must be at least 100\n");
    return 2;
  }
  auto pair = FrameSocket::CreatePair();
  if (!pair.ok()) return 1;
  pid_t child = fork();
  if (child == 0) {
    pair->first = FrameSocket(UniqueFd());
    ServeEcho(std::move(pair->second));
  }
  pair->second = FrameSocket(UniqueFd());
  {
    BrokerClient client(std::move(pair->first));
    printf("broker channel, two processes, %d iterations each, %ld CPUs\n", iterations,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-26s %10s %10s %10s %12s\n", "case", "mean us", "p50 us", "p99 us", "msgs/s");
    for (bool with_fd : {false, true}) Latency(client, with_fd, iterations);
    for (bool with_fd : {false, true}) {
      for (int depth : {1, 16}) Throughput(client, with_fd, depth, iterations);
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  return 0;
}
