// Whether a shard's writes currently work. Private to storage/.
#pragma once

#include <spdlog/spdlog.h>

#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "common/status_macros.h"

namespace skua::storage {

// OK, or why the last write of a shard failed, until writes work again. Set by the shard's
// writer thread, read by anyone (health checks, the writer before each commit). Thread-safe.
class WriteHealth {
 public:
  explicit WriteHealth(int shard_id) : shard_id_(shard_id) {}

  absl::Status Get() const {
    std::lock_guard lock(mu_);
    return status_;
  }

  // Logs the moment writes start failing (once, not at every failed retry).
  void Set(absl::Status st) {
    std::lock_guard lock(mu_);
    if (!st.ok() && status_.ok()) {
      SPDLOG_ERROR("shard {}: writes failing: {}", shard_id_, st.message());
    }
    status_ = std::move(st);
  }

 private:
  const int shard_id_;
  mutable std::mutex mu_;
  absl::Status status_;  // guarded by mu_
};

}  // namespace skua::storage
