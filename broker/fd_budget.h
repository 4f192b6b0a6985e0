// The number of fds the broker may hold for nodes and open handles, so a guest
// that opens or looks up without end gets ENFILE instead of exhausting the
// process's RLIMIT_NOFILE (which the channel and every request need).
//
// Thread-safe. A FdToken is one unit of the budget; it returns it when destroyed.

#ifndef VIRTIOFSD_BROKER_FD_BUDGET_H_
#define VIRTIOFSD_BROKER_FD_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

namespace virtiofsd {

class FdBudget;

class FdToken {
 public:
  FdToken() = default;
  FdToken(FdToken&& other) noexcept : budget_(std::exchange(other.budget_, nullptr)) {}
  FdToken& operator=(FdToken&& other) noexcept;
  ~FdToken();

 private:
  friend class FdBudget;
  explicit FdToken(FdBudget* budget) : budget_(budget) {}
  FdBudget* budget_ = nullptr;
};

class FdBudget {
 public:
  explicit FdBudget(int64_t limit) : limit_(limit) {}
  // A token, or nullopt when `limit` tokens are out (the caller answers ENFILE).
  // The budget must outlive its tokens.
  std::optional<FdToken> Take();
  int64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  friend class FdToken;
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

inline FdToken& FdToken::operator=(FdToken&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr) budget_->used_.fetch_sub(1, std::memory_order_relaxed);
    budget_ = std::exchange(other.budget_, nullptr);
  }
  return *this;
}

inline FdToken::~FdToken() {
  if (budget_ != nullptr) budget_->used_.fetch_sub(1, std::memory_order_relaxed);
}

inline std::optional<FdToken> FdBudget::Take() {
  if (used_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
    used_.fetch_sub(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return FdToken(this);
}

}  // namespace virtiofsd

#endif  // VIRTIOFSD_BROKER_FD_BUDGET_H_
