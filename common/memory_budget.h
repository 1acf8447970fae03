// A budget of bytes shared by the parts that hold client data in memory (request bodies being
// received, inflated and decoded, on every ingest port): memory is reserved before it is spent,
// and a reservation that does not fit is refused at once, so the caller can answer with a
// retryable error instead of growing without bound (Envoy's overload manager and nginx's limits
// work the same way).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"

namespace skua::common {

class MemoryBudget {
 public:
  // `limit` 0 = unbounded (reservations are still counted).
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Bytes held by a reservation; released when destroyed. Movable, not copyable.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : budget_(std::exchange(o.budget_, nullptr)), bytes_(o.bytes_) {}
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        Reset();
        budget_ = std::exchange(o.budget_, nullptr);
        bytes_ = o.bytes_;
      }
      return *this;
    }
    ~Lease() { Reset(); }
    uint64_t bytes() const { return budget_ != nullptr ? bytes_ : 0; }
    // Resizes the reservation to `bytes`; false (and unchanged) if growing does not fit.
    bool Resize(uint64_t bytes) {
      if (budget_ == nullptr) return false;
      if (bytes > bytes_ && !budget_->TryTake(bytes - bytes_)) return false;
      if (bytes < bytes_) budget_->Give(bytes_ - bytes);
      bytes_ = bytes;
      return true;
    }
    void Reset() {
      if (budget_ != nullptr) budget_->Give(bytes_);
      budget_ = nullptr;
      bytes_ = 0;
    }
    explicit operator bool() const { return budget_ != nullptr; }

   private:
    friend class MemoryBudget;
    Lease(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // A lease of `bytes`, or an empty (false) lease if they do not fit now. Thread-safe.
  Lease TryReserve(uint64_t bytes) {
    if (!TryTake(bytes)) return Lease();
    return Lease(this, bytes);
  }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

  // The refusal a client gets when a reservation does not fit (kResourceExhausted; the caller
  // adds its protocol's retry hint).
  absl::Status Exhausted() const {
    return absl::ResourceExhaustedError(
        fmt::format("memory for requests in flight is exhausted ({} of {} bytes); retry later",
                    used(), limit()));
  }

 private:
  bool TryTake(uint64_t bytes) {
    uint64_t cur = used_.load(std::memory_order_relaxed);
    do {
      if (limit_ != 0 && (bytes > limit_ || cur > limit_ - bytes)) return false;
    } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
    return true;
  }
  void Give(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace skua::common
