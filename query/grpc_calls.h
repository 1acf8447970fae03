// What the query port's two gRPC services (api_v3 and api_v2) share: request checks, the
// error a storage failure answers, and running one call (metrics, the search with its
// deadline). Private to query/.
#pragma once

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth.h"
#include "common/grpc_server.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/map.h"
#include "google/protobuf/timestamp.pb.h"
#include "query/call_metrics.h"
#include "query/params.h"
#include "query/query_service.h"

namespace skua::query {

grpc::Status Invalid(std::string message);
// The answer to a failed storage call: DEADLINE_EXCEEDED when a search ran out of time; else
// the code without the cause (it may name files of the data directory; it goes to the log).
grpc::Status StorageFailure(const absl::Status& st);
// Nanoseconds since the epoch of a Timestamp; nullopt if out of range.
std::optional<int64_t> TimestampNanos(const google::protobuf::Timestamp& t);
// Nanoseconds of a non-negative Duration; nullopt if negative, malformed or out of range.
std::optional<int64_t> DurationNanos(const google::protobuf::Duration& d);
// The code's name, as the metrics label it.
std::string_view CodeName(grpc::StatusCode code);

// What every call of one gRPC query service needs: the query service, and the metrics its
// calls are recorded in.
class Calls {
 public:
  Calls(std::string_view grpc_service, QueryService& service, common::MetricsRegistry& metrics,
        common::Authenticator* auth, const common::Tenancy* tenancy)
      : grpc_service_(grpc_service),
        service_(service),
        metrics_(metrics),
        auth_(auth),
        tenancy_(tenancy) {}
  QueryService& service() { return service_; }

  // Runs one call as fn(tenant), recording it in the query API's metrics (route = gRPC method).
  // Calls without accepted credentials, or (with tenancy) without an allowed tenant, are
  // refused before `fn` runs.
  template <typename Fn>
  grpc::Status Observed(grpc::ServerContext* context, std::string_view method, Fn fn) {
    auto start = std::chrono::steady_clock::now();
    grpc::Status st;
    try {
      st = Authenticate(context);
      absl::StatusOr<std::string> tenant;
      if (st.ok()) tenant = common::TenantOfCall(tenancy_, *context);
      if (st.ok() && !tenant.ok()) {
        st = grpc::Status(static_cast<grpc::StatusCode>(tenant.status().code()),
                          std::string(tenant.status().message()));
      }
      if (st.ok()) st = fn(*tenant);
    } catch (const std::exception& e) {
      SPDLOG_ERROR("query-grpc {}/{}: {}", grpc_service_, method, e.what());
      st = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    RecordQueryCall(metrics_, fmt::format("/{}/{}", grpc_service_, method),
                    std::string(CodeName(st.error_code())), start);
    return st;
  }

  // A search from the query parameters both API versions share (v2 calls the attributes
  // `tags`); the error names the field.
  template <typename Params>
  grpc::Status ParseSearch(const Params& p,
                           const google::protobuf::Map<std::string, std::string>& attributes,
                           storage::TraceQuery& q) {
    q.service = p.service_name();
    q.operation = p.operation_name();
    // A protobuf map has no order; Jaeger's answer does not depend on one either.
    for (const auto& [k, v] : attributes) q.tags.emplace_back(k, v);
    std::sort(q.tags.begin(), q.tags.end());
    if (!p.has_start_time_min() || !p.has_start_time_max()) {
      return Invalid("query.start_time_min and query.start_time_max are required");
    }
    auto min = TimestampNanos(p.start_time_min()), max = TimestampNanos(p.start_time_max());
    if (!min) return Invalid("malformed query.start_time_min");
    if (!max) return Invalid("malformed query.start_time_max");
    if (*min >= *max) return Invalid("query.start_time_min must be before query.start_time_max");
    q.start_min_ns = *min;
    q.start_max_ns = *max;
    if (auto st = ParseDurations(p, q); !st.ok()) return st;
    q.limit = service_.SearchLimit(p.search_depth());
    return grpc::Status::OK;
  }

  // ParseSearch, then the structured filter where the API version has one (api_v3).
  template <typename Params>
  grpc::Status ParseSearchWithFilter(
      const Params& p, const google::protobuf::Map<std::string, std::string>& attributes,
      storage::TraceQuery& q) {
    if (auto st = ParseSearch(p, attributes, q); !st.ok()) return st;
    return ParseFilter(p, !attributes.empty(), q);
  }

  // The query's structured filter (Jaeger RFC 0005) into q.filter; the legacy predicates must
  // be absent (`has_attributes`: the API's attributes field is not empty). Malformed:
  // INVALID_ARGUMENT; not served here: UNIMPLEMENTED.
  template <typename Params>
  static grpc::Status ParseFilter(const Params& p, bool has_attributes, storage::TraceQuery& q) {
    if (!p.has_filter()) return grpc::Status::OK;
    if (!p.service_name().empty() || !p.operation_name().empty() || has_attributes ||
        p.has_duration_min() || p.has_duration_max()) {
      return Invalid(kFilterExclusive);
    }
    auto f = filter::FromProto(p.filter());
    if (!f.ok()) {
      return grpc::Status(f.status().code() == absl::StatusCode::kUnimplemented
                              ? grpc::StatusCode::UNIMPLEMENTED
                              : grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(common::Message(f.status())));
    }
    q.filter = std::move(*f);
    return grpc::Status::OK;
  }

  // The query's duration_min and duration_max (absent: unbounded), as every API version names
  // them; the error names the field.
  template <typename Params>
  static grpc::Status ParseDurations(const Params& p, storage::TraceQuery& q) {
    if (p.has_duration_min()) {
      auto d = DurationNanos(p.duration_min());
      if (!d) return Invalid("query.duration_min must be a non-negative duration");
      q.duration_min_ns = *d;
    }
    if (p.has_duration_max()) {
      auto d = DurationNanos(p.duration_max());
      if (!d) return Invalid("query.duration_max must be a non-negative duration");
      q.duration_max_ns = *d;
    }
    if (q.duration_max_ns != 0 && q.duration_min_ns > q.duration_max_ns) {
      return Invalid("query.duration_min must not exceed query.duration_max");
    }
    return grpc::Status::OK;
  }

  // Runs `q` and calls send(trace) for each trace found, newest first, until send returns
  // false (the client went away).
  // The search stops at query.timeout or the client's deadline, whichever comes first, and
  // when the client cancels.
  template <typename Send>
  grpc::Status Search(const storage::TraceQuery& q, QueryService::Adjust adjust,
                      grpc::ServerContext* context, Send send,
                      QueryService::Paging* paging = nullptr) {
    bool cancelled = false;
    auto st = service_.StreamTraces(
        q, TimeLeft(*context), adjust,
        [&](otlp_trace::TracesData& t) {
          cancelled = context->IsCancelled() || !send(t);
          return !cancelled;
        },
        paging);
    if (!st.ok()) return StorageFailure(st);
    return cancelled ? Cancelled(context) : grpc::Status::OK;
  }

  // The time until the call's deadline (gRPC's "no deadline" is far in the future).
  static std::chrono::milliseconds TimeLeft(const grpc::ServerContext& context) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(context.deadline() -
                                                                 std::chrono::system_clock::now());
  }

  static grpc::Status Cancelled(grpc::ServerContext* context) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        context->IsCancelled() ? "cancelled by the client" : "stream closed");
  }

 private:
  grpc::Status Authenticate(grpc::ServerContext* context) {
    absl::Status st = common::AuthenticateCall(auth_, *context);
    if (st.ok()) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(st.message()));
  }

  std::string grpc_service_;
  QueryService& service_;
  common::MetricsRegistry& metrics_;
  common::Authenticator* auth_;
  const common::Tenancy* tenancy_;
};

// The services, for StartQueryGrpcServer (grpc_v3.cc, grpc_v2.cc, grpc_storage_v2.cc).
std::shared_ptr<grpc::Service> MakeV3QueryService(QueryService& service,
                                                  common::MetricsRegistry& metrics,
                                                  common::Authenticator* auth,
                                                  const common::Tenancy* tenancy);
std::shared_ptr<grpc::Service> MakeV2QueryService(QueryService& service,
                                                  common::MetricsRegistry& metrics,
                                                  common::Authenticator* auth,
                                                  const common::Tenancy* tenancy);
// Jaeger v2's remote storage API: TraceReader, DependencyReader and Capabilities.
std::vector<std::shared_ptr<grpc::Service>> MakeRemoteStorageServices(
    QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth,
    const common::Tenancy* tenancy);

}  // namespace skua::query
