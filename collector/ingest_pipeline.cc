#include "collector/ingest_pipeline.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/ids.h"
#include "common/log_limiter.h"
#include "common/status_macros.h"
#include "storage/storable.h"

namespace skua::collector {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;

// How often an idle shard writer gives storage a chance to do its upkeep.
constexpr auto kMaintainInterval = std::chrono::seconds(1);

// Why a span is invalid, or nullptr.
const char* InvalidReason(const otlp_trace::Span& span) {
  const std::string& t = span.trace_id();
  if (t.size() != 16) return "trace_id must be 16 bytes";
  if (!common::TraceId::FromBytes(t)->IsValid()) return "trace_id is all zero";
  const std::string& s = span.span_id();
  if (s.size() != 8) return "span_id must be 8 bytes";
  if (!common::SpanId::FromBytes(s)->IsValid()) return "span_id is all zero";
  if (!span.parent_span_id().empty() && span.parent_span_id().size() != 8) {
    return "parent_span_id must be empty or 8 bytes";
  }
  return nullptr;
}

}  // namespace

// Completion of one export across the shards it touched: the last shard to finish reports
// the outcome. Shared by the queued items of the export.
struct IngestPipeline::Waiter {
  std::mutex mu;
  int pending = 0;
  absl::Status status;
  ExportResult result;
  std::function<void(absl::StatusOr<ExportResult>)> done;
  std::function<void(const absl::Status&)> on_failure;  // counts the failure

  void Done(const absl::Status& s) {
    absl::Status final_status;
    {
      std::lock_guard lock(mu);
      if (!s.ok() && status.ok()) status = s;
      if (--pending > 0) return;
      final_status = status;
    }
    if (!final_status.ok()) {
      // The cause (it may name files of the data directory) is logged by the shard writer, not
      // told to the client.
      on_failure(final_status);
      done(absl::UnavailableError(
          fmt::format("storage cannot take {} spans now; retry later", result.accepted)));
    } else {
      done(result);
    }
  }
};

class IngestPipeline::ShardWriter {
 public:
  struct Item {
    storage::PreparedWrite write;
    std::shared_ptr<Waiter> waiter;
  };

  ShardWriter(int shard, storage::SpanWriter& store, uint64_t max_bytes,
              common::MetricsRegistry& metrics)
      : shard_(shard),
        store_(store),
        max_bytes_(max_bytes),
        queue_bytes_(metrics.GetGauge("skua_ingest_queue_bytes",
                                      "Bytes queued for a storage shard, including the batch "
                                      "being committed",
                                      {{"shard", std::to_string(shard)}})),
        batch_latency_(metrics.GetHistogram(
            "skua_storage_write_batch_seconds", "Latency of one group commit to a shard",
            common::LatencyBucketsSeconds(), {{"shard", std::to_string(shard)}})),
        batch_spans_(metrics.GetCounter("skua_storage_write_batches_total",
                                        "Group commits to a shard",
                                        {{"shard", std::to_string(shard)}})),
        thread_([this] { Run(); }) {}

  ~ShardWriter() { StopAndJoin(); }

  // Admits `bytes` if they fit under the bound; admission is the only place queue memory grows.
  bool TryReserve(uint64_t bytes) {
    uint64_t cur = reserved_.load();
    do {
      if (cur + bytes > max_bytes_) return false;
    } while (!reserved_.compare_exchange_weak(cur, cur + bytes));
    queue_bytes_.Set(static_cast<int64_t>(cur + bytes));
    return true;
  }
  void Release(uint64_t bytes) {
    uint64_t now = reserved_.fetch_sub(bytes) - bytes;
    queue_bytes_.Set(static_cast<int64_t>(now));
  }
  uint64_t Reserved() const { return reserved_.load(); }

  // REQUIRES: item.write.bytes were reserved. False if the writer is stopping (not queued).
  bool Push(Item item) {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(item));
    cv_.notify_one();
    return true;
  }

  void StopAndJoin() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::vector<Item> batch;
    std::vector<const storage::PreparedWrite*> writes;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, kMaintainInterval,
                          [this] { return stopping_ || !queue_.empty(); })) {
          lock.unlock();
          store_.Maintain(shard_);  // idle: let storage do its periodic upkeep
          continue;
        }
        if (queue_.empty()) return;  // stopping and drained
        batch.clear();
        while (!queue_.empty()) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      writes.clear();
      uint64_t bytes = 0;
      for (const auto& item : batch) {
        writes.push_back(&item.write);
        bytes += item.write.bytes;
      }
      auto start = std::chrono::steady_clock::now();
      absl::Status st = store_.Commit(shard_, writes);
      batch_latency_.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      batch_spans_.Increment();
      uint64_t n = 0;
      if (!st.ok() && log_limiter_.Allow(&n)) {
        SPDLOG_ERROR("shard {}: {} group commit(s) failed in 10 s, last: {}", shard_, n,
                     st.message());
      }
      Release(bytes);
      for (auto& item : batch) item.waiter->Done(st);
    }
  }

  const int shard_;
  storage::SpanWriter& store_;
  const uint64_t max_bytes_;
  std::atomic<uint64_t> reserved_{0};
  common::Gauge& queue_bytes_;
  common::Histogram& batch_latency_;
  common::Counter& batch_spans_;
  common::LogLimiter log_limiter_{std::chrono::seconds(10)};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::thread thread_;      // last: starts after the members above exist
};

IngestPipeline::IngestPipeline(storage::SpanWriter& store, const config::CollectorConfig& config,
                               common::MetricsRegistry& metrics)
    : store_(store), config_(config), metrics_(metrics) {
  for (int i = 0; i < store.shard_count(); ++i) {
    shards_.push_back(std::make_unique<ShardWriter>(i, store, config.queue_max_bytes, metrics));
  }
}

IngestPipeline::~IngestPipeline() { Stop(); }

void IngestPipeline::Stop() {
  for (auto& s : shards_) s->StopAndJoin();
}

uint64_t IngestPipeline::QueuedBytes(int shard) const { return shards_.at(shard)->Reserved(); }

absl::StatusOr<ExportResult> IngestPipeline::Export(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    std::string_view transport) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<ExportResult>> outcome;
  ExportAsync(request, transport, [&](absl::StatusOr<ExportResult> r) {
    std::lock_guard lock(mu);
    outcome = std::move(r);
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outcome.has_value(); });
  return std::move(*outcome);
}

void IngestPipeline::ExportAsync(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    std::string_view transport, Done done) {
  const std::string t(transport);
  auto counter = [&](std::string_view name, std::string_view help,
                     std::string_view reason = {}) -> common::Counter& {
    common::Labels labels = {{"transport", t}};
    if (!reason.empty()) labels.emplace_back("reason", std::string(reason));
    return metrics_.GetCounter(name, help, labels);
  };
  constexpr std::string_view kRejectedName = "skua_spans_rejected_total";
  constexpr std::string_view kRejectedHelp = "Spans not stored, by transport and reason";

  // The rules the read path relies on hold for the whole request, or nothing of it is stored.
  if (absl::Status st = storage::CheckStorable(request.resource_spans()); !st.ok()) {
    int64_t spans = 0;
    for (const auto& rs : request.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) spans += ss.spans_size();
    }
    counter("skua_spans_received_total", "Spans received, by transport").Increment(spans);
    counter(kRejectedName, kRejectedHelp, "invalid_request").Increment(spans);
    return done(std::move(st));
  }

  ExportResult result;
  std::vector<std::vector<storage::SpanRef>> by_shard(shards_.size());
  std::string first_error;
  for (int r = 0; r < request.resource_spans_size(); ++r) {
    const auto& rs = request.resource_spans(r);
    for (int s = 0; s < rs.scope_spans_size(); ++s) {
      const auto& ss = rs.scope_spans(s);
      for (int i = 0; i < ss.spans_size(); ++i) {
        const auto& span = ss.spans(i);
        if (const char* why = InvalidReason(span)) {
          if (result.rejected++ == 0) {
            first_error =
                fmt::format("resource_spans[{}].scope_spans[{}].spans[{}]: {}", r, s, i, why);
          }
          continue;
        }
        auto tid = common::TraceId::FromBytes(span.trace_id());
        by_shard[store_.ShardOf(*tid)].push_back({&rs, &ss, &span});
        ++result.accepted;
      }
    }
  }
  int64_t received = result.accepted + result.rejected;
  counter("skua_spans_received_total", "Spans received, by transport").Increment(received);
  if (result.rejected > 0) {
    result.rejection_message =
        result.rejected == 1
            ? fmt::format("1 invalid span rejected: {}", first_error)
            : fmt::format("{} invalid spans rejected; first: {}", result.rejected, first_error);
    counter(kRejectedName, kRejectedHelp, "invalid").Increment(result.rejected);
  }
  if (result.accepted == 0) return done(result);

  std::vector<std::pair<int, storage::PreparedWrite>> writes;
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    if (!by_shard[shard].empty()) {
      writes.emplace_back(static_cast<int>(shard), store_.Prepare(by_shard[shard]));
    }
  }
  // Admission is all-or-nothing across shards, so a refused request stored nothing and its retry
  // cannot duplicate spans.
  for (size_t i = 0; i < writes.size(); ++i) {
    auto& [shard, w] = writes[i];
    if (!shards_[shard]->TryReserve(w.bytes)) {
      for (size_t j = 0; j < i; ++j) shards_[writes[j].first]->Release(writes[j].second.bytes);
      counter(kRejectedName, kRejectedHelp, "queue_full").Increment(result.accepted);
      return done(absl::ResourceExhaustedError(
          fmt::format("ingest queue of shard {} is full ({} bytes queued, limit {}); retry later",
                      shard, shards_[shard]->Reserved(), config_.queue_max_bytes)));
    }
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->pending = static_cast<int>(writes.size());
  waiter->result = std::move(result);
  common::Counter& accepted =
      counter("skua_spans_accepted_total", "Spans durably stored, by transport");
  common::Counter& failed = counter(kRejectedName, kRejectedHelp, "storage_error");
  int64_t n = waiter->result.accepted;
  waiter->on_failure = [&failed, n](const absl::Status&) { failed.Increment(n); };
  waiter->done = [&accepted, n, done = std::move(done)](absl::StatusOr<ExportResult> r) {
    if (r.ok()) accepted.Increment(n);
    done(std::move(r));
  };
  for (auto& [shard, w] : writes) {
    uint64_t bytes = w.bytes;
    if (!shards_[shard]->Push({std::move(w), waiter})) {
      shards_[shard]->Release(bytes);
      waiter->Done(absl::UnavailableError("Skua is shutting down"));
    }
  }
}

}  // namespace skua::collector
