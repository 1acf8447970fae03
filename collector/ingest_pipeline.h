// The ingest pipeline: checks the spans of an export request, routes them by trace ID to their
// storage shard, encodes them, and submits them to storage, whose per-shard writers queue them
// (bounded, in bytes) and group-commit them to the write-ahead log.
//
// Threads: Export() is called concurrently by receiver threads; the completion comes from a
// storage writer thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/tenant_limits.h"
#include "common/metrics.h"
#include "config/config.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "storage/span_store.h"

namespace skua::collector {

struct ExportResult {
  int64_t accepted = 0;
  int64_t rejected = 0;           // invalid spans, reported through OTLP partial success
  std::string rejection_message;  // set when rejected > 0
};

class IngestPipeline {
 public:
  // `limits` (null: none) must outlive the pipeline.
  IngestPipeline(storage::SpanWriter& store, common::MetricsRegistry& metrics,
                 TenantLimits* limits = nullptr);
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  // Stores the valid spans of `request` as `tenant`'s ("" without tenancy; resolved by the
  // receiver); returns once they are durable. `transport` labels the metrics ("grpc", "http").
  // Invalid spans (bad trace or span ID) are skipped and counted.
  // Errors (nothing of the request is stored):
  //   kInvalidArgument    the request breaks a storage rule (storage/storable.h); the message
  //                       names the field. Not retryable.
  //   kPermissionDenied   a new tenant past tenancy.max_tenants. Not retryable.
  //   kResourceExhausted  a shard queue is full (collector.queue.max_bytes), or the tenant is
  //                       over its rate; retry later
  //   kUnavailable        storage failed or the pipeline is stopping; retry
  // REQUIRES: `request` is not modified until Export returns.
  absl::StatusOr<ExportResult> Export(
      const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
      std::string_view transport, const std::string& tenant = "");

  // As Export, without blocking: `done` is called exactly once with the outcome, either before
  // ExportAsync returns (refusals, nothing to store) or from a shard writer thread once the spans
  // are durable. `request` is only read during the call: it may be freed as soon as ExportAsync
  // returns.
  using Done = std::function<void(absl::StatusOr<ExportResult>)>;
  void ExportAsync(
      const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
      std::string_view transport, const std::string& tenant, Done done);

  // Refuses new exports, commits everything queued, stops storage's writers. Idempotent.
  void Stop();

 private:
  storage::SpanWriter& store_;
  common::MetricsRegistry& metrics_;
  TenantLimits* const limits_;
};

}  // namespace skua::collector
