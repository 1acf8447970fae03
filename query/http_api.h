// The query HTTP API on 16686: Jaeger's v1 JSON API (/api/…) and api_v3 gateway (/api/v3/…),
// as Jaeger v2.20 serves them (docs/api.md).
#pragma once

#include "common/clock.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "config/config.h"
#include "storage/span_store.h"

namespace skua::query {

// The handler for the query port. `store` and `clock` must outlive it; `clock` supplies "now"
// for the default search window and the searches' deadlines (config.timeout).
common::HttpHandler MakeQueryHttpHandler(storage::SpanReader& store,
                                         const config::QueryConfig& config, common::Clock& clock,
                                         common::MetricsRegistry& metrics);

// True for the requests that search (and so may take long): the server runs them on threads of
// their own (HttpServerOptions::runs_long), so services, operations and trace lookups never
// wait behind them.
bool IsSearchRequest(const common::HttpRequest& req);

}  // namespace skua::query
