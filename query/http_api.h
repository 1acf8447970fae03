// The query HTTP API on 16686: Jaeger's v1 JSON API (/api/…) and api_v3 gateway (/api/v3/…).
#pragma once

#include "common/http_server.h"
#include "common/metrics.h"
#include "storage/span_store.h"

namespace skua::query {

// The handler for the query port. `store` must outlive it.
common::HttpHandler MakeQueryHttpHandler(storage::SpanStore& store,
                                         common::MetricsRegistry& metrics);

}  // namespace skua::query
