// The query HTTP API on 16686: Jaeger's v1 JSON API (/api/…) and api_v3 gateway (/api/v3/…),
// as Jaeger v2.20 serves them (docs/api.md).
#pragma once

#include "common/http_server.h"
#include "common/metrics.h"
#include "common/tenancy.h"
#include "query/query_service.h"

namespace skua::query {

// The handler for the query port. With `tenancy` on (null: off), each call's tenant comes from
// its tenancy.header (missing: 401, not allowed: 403) and the call sees that tenant's data only.
// `service`, `metrics` and `tenancy` must outlive it.
common::HttpHandler MakeQueryHttpHandler(QueryService& service, common::MetricsRegistry& metrics,
                                         const common::Tenancy* tenancy = nullptr);

// True for the requests that search (and so may take long): the server runs them on threads of
// their own (HttpServerOptions::runs_long), so services, operations and trace lookups never
// wait behind them.
bool IsSearchRequest(const common::HttpRequest& req);

}  // namespace skua::query
