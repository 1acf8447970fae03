// A shard's cache of decoded-row bytes (resource and scope rows, which never change once
// written). Private to storage/.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace skua::storage {

// Bounded by a row count: past it the cache is simply cleared, which costs a few repeated reads,
// never a wrong answer. Keys name the partition and the row. Thread-safe.
class RowCache {
 public:
  explicit RowCache(size_t max_rows) : max_rows_(max_rows) {}

  std::optional<std::string> Find(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = rows_.find(key);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
  }

  void Insert(std::string key, std::string value) {
    std::lock_guard lock(mu_);
    if (rows_.size() > max_rows_) rows_.clear();
    rows_.emplace(std::move(key), std::move(value));
  }

  // After a partition is dropped: its rows must not be served any more.
  void Clear() {
    std::lock_guard lock(mu_);
    rows_.clear();
  }

 private:
  const size_t max_rows_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> rows_;  // guarded by mu_
};

}  // namespace skua::storage
