// The query gRPC API on 16685: Jaeger's api_v3 QueryService (jaeger.api_v3), answering as
// Jaeger v2 does over gRPC (docs/api.md), from the same storage queries as the HTTP API.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "storage/span_store.h"

namespace skua::query {

class QueryGrpcServer {
 public:
  // Listens on `endpoint` (port 0 picks one). `store` and `metrics` must outlive the server.
  // Errors: kUnavailable (cannot listen).
  static absl::StatusOr<std::unique_ptr<QueryGrpcServer>> Start(const std::string& endpoint,
                                                                storage::SpanStore& store,
                                                                common::MetricsRegistry& metrics);
  virtual ~QueryGrpcServer() = default;
  virtual std::string address() const = 0;
  // Stops accepting calls and waits (bounded) for calls in flight. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace skua::query
