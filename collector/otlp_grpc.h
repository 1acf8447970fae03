// OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "collector/ingest_pipeline.h"
#include "common/grpc_server.h"
#include "config/config.h"

namespace skua::collector {

// Serves TraceService/Export on config.grpc_endpoint (port 0 picks one), feeding `pipeline`,
// which must outlive the server. Errors: kUnavailable (cannot listen).
absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartOtlpGrpcReceiver(
    const config::CollectorConfig& config, IngestPipeline& pipeline);

}  // namespace skua::collector
