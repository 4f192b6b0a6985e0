#include "frontend/lock_waits.h"

namespace virtiofsd {

std::optional<uint64_t> LockWaits::Begin(uint64_t unique, int queue) {
  absl::MutexLock lock(&mu_);
  if (waits_.size() >= kMaxLockWaits) return std::nullopt;
  const uint64_t token = next_token_++;
  waits_.emplace(token, Wait{unique, queue, std::nullopt});
  return token;
}

bool LockWaits::Attach(uint64_t token, uint64_t broker_id) {
  absl::MutexLock lock(&mu_);
  auto it = waits_.find(token);
  if (it == waits_.end()) return false;
  it->second.broker_id = broker_id;
  return it->second.ending;
}

void LockWaits::End(uint64_t token) {
  absl::MutexLock lock(&mu_);
  waits_.erase(token);
}

std::optional<uint64_t> LockWaits::Interrupt(uint64_t unique) {
  absl::MutexLock lock(&mu_);
  for (auto& [token, wait] : waits_) {
    if (wait.unique != unique || wait.detached) continue;
    wait.ending = true;  // if not sent yet, Attach() interrupts it
    return wait.broker_id;
  }
  return std::nullopt;
}

template <typename Match>
std::vector<uint64_t> LockWaits::EndMatching(Match match, bool detach) {
  std::vector<uint64_t> ids;
  absl::MutexLock lock(&mu_);
  for (auto& [token, wait] : waits_) {
    if (!match(wait)) continue;
    wait.ending = true;
    wait.detached |= detach;
    if (wait.broker_id.has_value()) ids.push_back(*wait.broker_id);
  }
  return ids;
}

std::vector<uint64_t> LockWaits::EndQueue(int queue) {
  return EndMatching([queue](const Wait& wait) { return wait.queue == queue; },
                     /*detach=*/false);
}

std::vector<uint64_t> LockWaits::EndAll() {
  return EndMatching([](const Wait&) { return true; }, /*detach=*/true);
}

size_t LockWaits::size() {
  absl::MutexLock lock(&mu_);
  return waits_.size();
}

}  // namespace virtiofsd
