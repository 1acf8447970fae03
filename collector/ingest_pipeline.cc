// The ingest pipeline: checking, routing and encoding a request's spans, then submitting them
// to storage's shard writers.

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

IngestPipeline::IngestPipeline(storage::SpanWriter& store, common::MetricsRegistry& metrics,
                               TenantLimits* limits)
    : store_(store), metrics_(metrics), limits_(limits) {}

void IngestPipeline::Stop() { store_.StopWriters(); }

absl::StatusOr<ExportResult> IngestPipeline::Export(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    std::string_view transport, const std::string& tenant) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<ExportResult>> outcome;
  ExportAsync(request, transport, tenant, [&](absl::StatusOr<ExportResult> r) {
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
    std::string_view transport, const std::string& tenant, Done done) {
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
  std::vector<std::vector<storage::SpanRef>> by_shard(store_.shard_count());
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
  if (limits_ != nullptr) {
    if (absl::Status st = limits_->Admit(tenant, static_cast<uint64_t>(result.accepted));
        !st.ok()) {
      bool rate = st.code() == absl::StatusCode::kResourceExhausted;
      counter(kRejectedName, kRejectedHelp, rate ? "tenant_rate" : "tenant_limit")
          .Increment(result.accepted);
      return done(std::move(st));
    }
  }

  std::vector<storage::SpanWriter::ShardWrite> writes;
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    if (!by_shard[shard].empty()) {
      writes.push_back({static_cast<int>(shard), store_.Prepare(tenant, by_shard[shard])});
    }
  }
  common::Counter& accepted =
      counter("skua_spans_accepted_total", "Spans durably stored, by transport");
  common::Counter& queue_full = counter(kRejectedName, kRejectedHelp, "queue_full");
  common::Counter& failed = counter(kRejectedName, kRejectedHelp, "storage_error");
  store_.Submit(std::move(writes), [&accepted, &queue_full, &failed, result = std::move(result),
                                    done = std::move(done)](absl::Status st) {
    int64_t n = result.accepted;
    if (st.ok()) {
      accepted.Increment(n);
      return done(result);
    }
    // A full queue: refused before anything was queued, so the retry cannot duplicate spans.
    if (st.code() == absl::StatusCode::kResourceExhausted) {
      queue_full.Increment(n);
      return done(std::move(st));
    }
    // The cause (it may name files of the data directory) is logged by the shard writer, not
    // told to the client.
    failed.Increment(n);
    done(absl::UnavailableError(fmt::format("storage cannot take {} spans now; retry later", n)));
  });
}

}  // namespace skua::collector
