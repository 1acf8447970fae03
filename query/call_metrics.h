// The query APIs' per-call metrics, one place for the HTTP and the gRPC API.
#pragma once

#include <chrono>
#include <string>

#include "common/metrics.h"

namespace skua::query {

// Counts one call of `route` (an HTTP route or a gRPC method) that ended with `code` (HTTP status
// or gRPC code name) and records its latency since `start`.
inline void RecordQueryCall(common::MetricsRegistry& metrics, const std::string& route,
                            const std::string& code, std::chrono::steady_clock::time_point start) {
  metrics
      .GetHistogram("skua_query_request_seconds", "Query API latency by route",
                    common::LatencyBucketsSeconds(), {{"route", route}})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics
      .GetCounter("skua_query_requests_total", "Query API requests by route and status",
                  {{"route", route}, {"code", code}})
      .Increment();
}

}  // namespace skua::query
