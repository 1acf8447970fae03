// A shard's writer thread: group commit, upkeep, and tasks run between commits.

#include "storage/shard_writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <string>

#include "common/status_macros.h"

namespace skua::storage {
namespace {}  // namespace

void WriteCompletion::PartDone(const absl::Status& st) {
  absl::Status final_status;
  {
    std::lock_guard lock(mu_);
    if (!st.ok() && status_.ok()) status_ = st;
    if (--pending_ > 0) return;
    final_status = status_;
  }
  done_(final_status);
}

ShardWriter::ShardWriter(int id, Shard& shard, bool sync, uint64_t max_queue_bytes,
                         std::chrono::milliseconds idle_upkeep, common::MetricsRegistry& metrics)
    : id_(id),
      shard_(shard),
      sync_(sync),
      max_bytes_(max_queue_bytes),
      idle_upkeep_(idle_upkeep),
      queue_bytes_(metrics.GetGauge("skua_ingest_queue_bytes",
                                    "Bytes queued for a storage shard, including the batch "
                                    "being committed",
                                    {{"shard", std::to_string(id)}})),
      batch_latency_(metrics.GetHistogram(
          "skua_storage_write_batch_seconds", "Latency of one group commit to a shard",
          common::LatencyBucketsSeconds(), {{"shard", std::to_string(id)}})),
      batches_(metrics.GetCounter("skua_storage_write_batches_total", "Group commits to a shard",
                                  {{"shard", std::to_string(id)}})),
      thread_([this] { Run(); }) {}

bool ShardWriter::TryReserve(uint64_t bytes) {
  uint64_t cur = reserved_.load();
  do {
    if (cur + bytes > max_bytes_) return false;
  } while (!reserved_.compare_exchange_weak(cur, cur + bytes));
  queue_bytes_.Set(static_cast<int64_t>(cur + bytes));
  return true;
}

void ShardWriter::Release(uint64_t bytes) {
  uint64_t now = reserved_.fetch_sub(bytes) - bytes;
  queue_bytes_.Set(static_cast<int64_t>(now));
}

bool ShardWriter::Push(PreparedWrite write, std::shared_ptr<WriteCompletion> completion) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  queue_.push_back({std::move(write), std::move(completion), nullptr});
  cv_.notify_one();
  return true;
}

void ShardWriter::RunOnWriter(const std::function<void()>& task) {
  std::promise<void> ran;
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      // The thread drains what was queued before the stop, then ends: after that the shard is
      // this caller's (and other inline callers', one at a time).
      exited_cv_.wait(lock, [this] { return exited_; });
      lock.unlock();
      std::lock_guard inline_lock(inline_mu_);
      task();
      return;
    }
    queue_.push_back({{}, nullptr, [&] {
                        task();
                        ran.set_value();
                      }});
    cv_.notify_one();
  }
  ran.get_future().wait();
}

void ShardWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void ShardWriter::Run() {
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto woken = [this] { return stopping_ || !queue_.empty(); };
      if (idle_upkeep_.count() == 0) {
        cv_.wait(lock, woken);
      } else if (!cv_.wait_for(lock, idle_upkeep_, woken)) {
        lock.unlock();
        shard_.Maintain();  // idle: the shard's periodic upkeep (a busy writer's Commit does it)
        continue;
      }
      if (queue_.empty()) {  // stopping and drained
        exited_ = true;
        exited_cv_.notify_all();
        return;
      }
      batch.clear();
      while (!queue_.empty()) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
  }
}

// Commits the writes of `batch` as one group, in order; a task ends the group before it and runs
// on its own.
void ShardWriter::CommitBatch(std::vector<Item>& batch) {
  std::vector<const PreparedWrite*> writes;
  size_t group_begin = 0;
  auto commit = [&](size_t end) {
    if (writes.empty()) return;
    uint64_t bytes = 0;
    for (const auto* w : writes) bytes += w->bytes;
    auto start = std::chrono::steady_clock::now();
    absl::Status st = shard_.Commit(writes, sync_);
    batch_latency_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    batches_.Increment();
    uint64_t n = 0;
    if (!st.ok() && log_limiter_.Allow(&n)) {
      SPDLOG_ERROR("shard {}: {} group commit(s) failed in 10 s, last: {}", id_, n, st.message());
    }
    Release(bytes);
    for (size_t i = group_begin; i < end; ++i) {
      if (batch[i].completion) batch[i].completion->PartDone(st);
    }
    writes.clear();
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].task) {
      commit(i);
      batch[i].task();
      group_begin = i + 1;
    } else {
      writes.push_back(&batch[i].write);
    }
  }
  commit(batch.size());
}

}  // namespace skua::storage
