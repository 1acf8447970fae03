// OTLP/HTTP receiver: POST /v1/traces with application/x-protobuf or application/json bodies,
// optionally gzip- or deflate-encoded. Served by a common::HttpServer.
#pragma once

#include "collector/ingest_pipeline.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "config/config.h"

namespace skua::collector {

// The handler for the OTLP/HTTP port. `pipeline` must outlive the handler.
common::HttpHandler MakeOtlpHttpHandler(IngestPipeline& pipeline,
                                        const config::CollectorConfig& config,
                                        common::MetricsRegistry& metrics);

}  // namespace skua::collector
