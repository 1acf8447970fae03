// OTLP/HTTP receiver: POST /v1/traces with application/x-protobuf or application/json bodies,
// optionally gzip- or deflate-encoded. Served by a common::HttpServer.
#pragma once

#include "collector/ingest_pipeline.h"
#include "common/http_server.h"
#include "common/memory_budget.h"
#include "common/metrics.h"
#include "common/tenancy.h"
#include "config/config.h"

namespace skua::collector {

// The handler for the OTLP/HTTP port. The server reserves each body from `budget` (its
// HttpServerOptions::body_budget); the handler reserves its inflation and decoding from it too,
// answering 429 when they do not fit. With `tenancy` on (null: off), an export's tenant comes
// from its tenancy.header: missing is 401, not allowed 403. `pipeline`, `budget` and `tenancy`
// must outlive the handler.
common::HttpHandler MakeOtlpHttpHandler(IngestPipeline& pipeline,
                                        const config::CollectorConfig& config,
                                        common::MetricsRegistry& metrics,
                                        common::MemoryBudget& budget,
                                        const common::Tenancy* tenancy = nullptr);

// collector.retry_after in whole seconds (at least 1), for HTTP's Retry-After header.
int RetryAfterSeconds(const config::CollectorConfig& config);

}  // namespace skua::collector
