#include "frontend/queue_runner.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/logging.h"

namespace virtiofsd {

PendingChain::~PendingChain() {
  if (queue_ != nullptr) Complete(0);
}

int PendingChain::queue_index() const { return queue_->index(); }

void PendingChain::Complete(uint32_t written) {
  ChainCompleter* queue = std::exchange(queue_, nullptr);
  if (queue != nullptr) queue->Complete(chain_.head, written);
}

QueueRunner::QueueRunner(int index, std::unique_ptr<Virtqueue> queue, UniqueFd kick, UniqueFd call,
                         ChainHandler& handler)
    : index_(index),
      queue_(std::move(queue)),
      kick_(std::move(kick)),
      stop_(eventfd(0, EFD_CLOEXEC)),
      handler_(handler),
      call_(std::move(call)) {
  thread_ = std::thread([this] { Run(); });
}

QueueRunner::~QueueRunner() { Stop(); }

void QueueRunner::SetCall(UniqueFd call) {
  absl::MutexLock lock(&used_mu_);
  call_ = std::move(call);
}

uint16_t QueueRunner::Stop() {
  if (!stopped_) {
    stopped_ = true;
    uint64_t one = 1;
    ssize_t ignored = write(stop_.get(), &one, sizeof(one));
    (void)ignored;
    thread_.join();
    handler_.QueueStopping(index_);
    absl::MutexLock lock(&used_mu_);
    used_mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &pending_));
  }
  return queue_->next_avail();
}

bool QueueRunner::Drain() {
  while (true) {
    absl::StatusOr<std::optional<uint16_t>> head = queue_->PopAvail();
    if (!head.ok()) {
      VFSD_LOG(kError, "queue %d: %s; stopping the queue", index_, head.status().message());
      return false;
    }
    if (!head->has_value()) return true;
    absl::StatusOr<DescriptorChain> chain = queue_->ReadChain(**head);
    {
      absl::MutexLock lock(&used_mu_);
      ++pending_;
    }
    if (!chain.ok()) {
      VFSD_LOG(kWarn, "queue %d: dropping chain %d: %s", index_, **head, chain.status().message());
      Complete(**head, 0);
      continue;
    }
    handler_.HandleChain(PendingChain(this, *std::move(chain)));
  }
}

void QueueRunner::Run() {
  pollfd fds[2] = {{kick_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  while (true) {
    // Drain what is available, then re-arm notifications and check once more, so a
    // kick that raced with the drain is never missed. Chains the driver adds while
    // the handler awaits replies are drained in the same pass.
    handler_.BeginPass();
    bool drained;
    do {
      drained = Drain();
      if (!drained) break;
      if (queue_->EnableNotifications()) continue;
      handler_.AwaitReplies([this] { return queue_->EnableNotifications(); });
    } while (queue_->EnableNotifications());
    handler_.EndPass();
    if (!drained) return;

    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      VFSD_LOG(kError, "queue %d: poll: %s", index_, strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & POLLIN) {
      uint64_t kicks;
      ssize_t ignored = read(kick_.get(), &kicks, sizeof(kicks));
      (void)ignored;
    } else if (fds[0].revents) {
      VFSD_LOG(kError, "queue %d: kick fd failed; stopping the queue", index_);
      return;
    }
  }
}

void QueueRunner::Complete(uint16_t head, uint32_t written) {
  absl::MutexLock lock(&used_mu_);
  queue_->PushUsed(head, written);
  --pending_;
  if (queue_->NeedsInterrupt() && call_.valid()) {
    uint64_t one = 1;
    ssize_t ignored = write(call_.get(), &one, sizeof(one));
    (void)ignored;
  }
}

}  // namespace virtiofsd
