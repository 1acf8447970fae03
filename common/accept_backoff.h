// What an accept loop does when accept fails for lack of descriptors or memory: the connection
// waits in the kernel's backlog while the loop backs off (10 ms, doubling to 1 s) instead of
// spinning, says so in the log at most once per 10 s, and reports that it cannot accept until the
// next connection is accepted. Shared by the HTTP and the gRPC servers.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "common/log_limiter.h"

namespace skua::common {

class AcceptBackoff {
 public:
  explicit AcceptBackoff(std::string name) : name_(std::move(name)) {}

  // A failed accept (`error` says why); returns how long to wait before accepting again.
  // Called by the accept loop only.
  std::chrono::milliseconds Failed(std::string_view error) {
    accepting_ = false;
    uint64_t n = 0;
    if (log_limiter_.Allow(&n)) {
      SPDLOG_WARN("{}: accept failed {} time(s): {}; retrying in up to {} ms", name_, n, error,
                  kMax.count());
    }
    auto wait = backoff_;
    backoff_ = std::min(backoff_ * 2, kMax);
    return wait;
  }

  // An accepted connection. Called by the accept loop only.
  void Accepted() {
    if (!accepting_.exchange(true)) SPDLOG_INFO("{}: accepting connections again", name_);
    backoff_ = kMin;
  }

  // False from a failed accept until the next accepted connection. Thread-safe.
  bool accepting() const { return accepting_.load(); }

 private:
  static constexpr std::chrono::milliseconds kMin{10};
  static constexpr std::chrono::milliseconds kMax{1000};

  const std::string name_;
  std::chrono::milliseconds backoff_ = kMin;
  std::atomic<bool> accepting_{true};
  LogLimiter log_limiter_{std::chrono::seconds(10)};
};

}  // namespace skua::common
