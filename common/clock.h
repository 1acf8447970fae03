// Time as an injected dependency, so batching, retention and timestamps are testable without
// sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace skua::common {

// Thread-safe source of wall-clock time.
class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual int64_t NowNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_nanos) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(); }
  void Advance(std::chrono::nanoseconds d) { now_ += d.count(); }
  void Set(int64_t nanos) { now_ = nanos; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace skua::common
