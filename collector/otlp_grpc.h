// OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "collector/ingest_pipeline.h"
#include "config/config.h"

namespace skua::collector {

class OtlpGrpcReceiver {
 public:
  // Listens on config.grpc_endpoint (port 0 picks one). Errors: kUnavailable (cannot listen).
  static absl::StatusOr<std::unique_ptr<OtlpGrpcReceiver>> Start(
      const config::CollectorConfig& config, IngestPipeline& pipeline);
  virtual ~OtlpGrpcReceiver() = default;
  virtual std::string address() const = 0;
  // Stops accepting calls and waits (bounded) for calls in flight. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace skua::collector
