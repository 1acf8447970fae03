// The compactor thread of a shard and its record of closed partitions.

#include "storage/compactor.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/status_macros.h"

namespace skua::storage {

Compactor::Compactor(int shard_id, std::function<absl::Status(const Partition&)> finish,
                     std::function<bool(const std::string&)> live)
    : shard_id_(shard_id), finish_(std::move(finish)), live_(std::move(live)) {}

bool Compactor::Handled(const std::string& partition) const {
  std::lock_guard lock(mu_);
  return finished_.contains(partition) || queued_.contains(partition);
}

void Compactor::MarkFinished(const std::string& partition) {
  std::lock_guard lock(mu_);
  finished_.insert(partition);
}

void Compactor::Forget(const std::string& partition) {
  std::lock_guard lock(mu_);
  finished_.erase(partition);
}

void Compactor::Enqueue(const Partition& p) {
  std::lock_guard lock(mu_);
  if (stop_ || !queued_.insert(p.name).second) return;
  queue_.push_back(p);
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_all();
}

void Compactor::Stop(const std::function<void()>& interrupt) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    queue_.clear();  // its partitions' handles go before the database
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    if (interrupt) interrupt();
    thread_.join();
  }
}

void Compactor::Run() {
  for (;;) {
    Partition p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      p = queue_.front();
      queue_.pop_front();
    }
    absl::Status st = finish_(p);
    bool live = live_(p.name);
    std::lock_guard lock(mu_);
    queued_.erase(p.name);  // after a failure, tried again at a later round
    if (!st.ok() && live && !stop_) {
      SPDLOG_WARN("shard {}: finish partition {}: {}", shard_id_, p.name, st.message());
    }
  }
}

}  // namespace skua::storage
