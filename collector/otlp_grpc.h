// OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "collector/ingest_pipeline.h"
#include "common/auth.h"
#include "common/grpc_server.h"
#include "common/memory_budget.h"
#include "config/config.h"

namespace skua::collector {

// Serves TraceService/Export on config.grpc_endpoint (port 0 picks one), feeding `pipeline`.
// Request bytes (received, inflated, decoded) are reserved from `budget` first; without room
// the export is refused with RESOURCE_EXHAUSTED and RetryInfo. `pipeline` and `budget` must
// outlive the server. Errors: kUnavailable (cannot listen).
// With `auth` (may be null: no authentication), an export without accepted credentials in its
// `authorization` metadata is refused with UNAUTHENTICATED before anything of it is read. With
// `tenancy` on (null: off), the export's tenant comes from its tenancy.header metadata: missing
// is UNAUTHENTICATED, not allowed PERMISSION_DENIED, before anything of it is read.
absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartOtlpGrpcReceiver(
    const config::CollectorConfig& config, IngestPipeline& pipeline, common::MemoryBudget& budget,
    common::Authenticator* auth = nullptr, const common::Tenancy* tenancy = nullptr);

}  // namespace skua::collector
