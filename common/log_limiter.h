// Rate limiting for log lines about conditions that can repeat thousands of times a second (a
// listener out of descriptors, a client sending garbage): at most one line per interval, with
// the number of occurrences it stands for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace skua::common {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval) : interval_ms_(interval.count()) {}

  // True if a line may be logged now; `*occurrences` is then the number of calls since the last
  // line, this one included. Thread-safe.
  bool Allow(uint64_t* occurrences) {
    pending_.fetch_add(1, std::memory_order_relaxed);
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < interval_ms_) return false;
    if (!last_ms_.compare_exchange_strong(last, now)) return false;
    *occurrences = pending_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  const int64_t interval_ms_;
  std::atomic<int64_t> last_ms_{0};
  std::atomic<uint64_t> pending_{0};
};

}  // namespace skua::common
