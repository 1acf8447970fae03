// The query gRPC API on 16685: Jaeger's api_v3 and api_v2 QueryService, answering as Jaeger v2 does
// over gRPC (docs/api.md), and Jaeger v2's remote storage API, from the same storage queries as
// the HTTP API.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/grpc_server.h"
#include "common/metrics.h"
#include "query/query_service.h"

namespace skua::query {

// Serves jaeger.api_v3.QueryService, jaeger.api_v2.QueryService and Jaeger v2's remote storage
// API (jaeger.storage.v2 TraceReader, DependencyReader, Capabilities) on query.grpc_endpoint
// (port 0 picks one). Searches stop at query.timeout (or the call's deadline, if sooner) and
// return at most query.max_limit traces. `service` and `metrics` must outlive the server.
// Errors: kUnavailable (cannot listen).
// With `auth` (may be null), a call without accepted credentials in its `authorization`
// metadata is refused with UNAUTHENTICATED. With `tenancy` on (null: off), each call's tenant
// comes from its tenancy.header metadata (missing: UNAUTHENTICATED, not allowed:
// PERMISSION_DENIED) and the call sees that tenant's data only.
absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartQueryGrpcServer(
    QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth = nullptr,
    const common::Tenancy* tenancy = nullptr);

}  // namespace skua::query
