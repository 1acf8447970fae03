// The writer of a shard: its bounded queue of prepared writes and the thread that drains it,
// group-committing everything waiting as one batch, and doing the shard's upkeep (retention,
// sealing, the disk cap, finishing closed partitions) between commits and when idle. Private to
// storage/.
//
// Why here and not in the collector: the queue is where storage's own write path begins (as in
// RocksDB's write queue and group commit), and everything that changes a shard's writer state —
// commits, upkeep, compaction on request — runs on this one thread, so none of it needs a lock
// and none of it depends on who submits the writes. Retention and sealing go on whether or not
// anything is being ingested.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "storage/shard.h"
#include "storage/span_store.h"

namespace skua::storage {

// Completion of one submitted request across the shards it touched: the last writer to finish
// its part calls `done`, with the first failure if any. Thread-safe.
class WriteCompletion {
 public:
  WriteCompletion(int parts, SpanWriter::Done done) : pending_(parts), done_(std::move(done)) {}
  void PartDone(const absl::Status& st);

 private:
  std::mutex mu_;
  int pending_;          // guarded by mu_
  absl::Status status_;  // guarded by mu_
  SpanWriter::Done done_;
};

class ShardWriter {
 public:
  // `shard` must outlive the writer. The thread starts at once.
  // `idle_upkeep`: how long the writer waits for writes before doing upkeep (0 = never).
  ShardWriter(int id, Shard& shard, bool sync, uint64_t max_queue_bytes,
              std::chrono::milliseconds idle_upkeep, common::MetricsRegistry& metrics);
  ~ShardWriter() { Stop(); }

  // Admits `bytes` if they fit under the bound; admission is the only place queue memory grows.
  bool TryReserve(uint64_t bytes);
  void Release(uint64_t bytes);
  uint64_t Reserved() const { return reserved_.load(); }

  // Queues a write whose bytes were reserved. False if the writer is stopping (nothing queued,
  // nothing released).
  bool Push(PreparedWrite write, std::shared_ptr<WriteCompletion> completion);

  // Runs `task` on the writer thread, between commits, and returns when it has run. Once the
  // writer has stopped, runs it on the calling thread (one such caller at a time).
  void RunOnWriter(const std::function<void()>& task);

  // Refuses new writes, commits everything queued, ends the thread. Idempotent.
  void Stop();

 private:
  struct Item {
    PreparedWrite write;
    std::shared_ptr<WriteCompletion> completion;
    std::function<void()> task;  // instead of a write, when set
  };
  void Run();
  void CommitBatch(std::vector<Item>& batch);

  const int id_;
  Shard& shard_;
  const bool sync_;
  const uint64_t max_bytes_;
  const std::chrono::milliseconds idle_upkeep_;
  std::atomic<uint64_t> reserved_{0};
  common::Gauge& queue_bytes_;
  common::Histogram& batch_latency_;
  common::Counter& batches_;
  common::LogLimiter log_limiter_{std::chrono::seconds(10)};

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable exited_cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  bool exited_ = false;     // the thread has ended; guarded by mu_
  std::mutex inline_mu_;    // serializes tasks run on callers' threads after the stop
  std::thread thread_;      // last: starts after the members above exist
};

}  // namespace skua::storage
