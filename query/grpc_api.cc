#include "query/grpc_api.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>

#include "common/ids.h"
#include "common/status_macros.h"
#include "jaeger/api_v3/query_service.grpc.pb.h"
#include "query/api_v3.h"
#include "query/call_metrics.h"

namespace skua::query {
namespace {

namespace api_v3 = ::jaeger::api_v3;
namespace otlp_trace = ::opentelemetry::proto::trace::v1;

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status StorageFailure(const absl::Status& st) {
  SPDLOG_WARN("query-grpc: {}", st.message());
  return grpc::Status(static_cast<grpc::StatusCode>(st.code()), std::string(st.message()));
}

// Nanoseconds since the epoch of a Timestamp; nullopt if out of range.
std::optional<int64_t> TimestampNanos(const google::protobuf::Timestamp& t) {
  if (t.nanos() < 0 || t.nanos() > 999'999'999) return std::nullopt;
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (t.seconds() < -kMaxSeconds || t.seconds() > kMaxSeconds) return std::nullopt;
  return t.seconds() * 1'000'000'000 + t.nanos();
}

// Nanoseconds of a non-negative Duration; nullopt if negative, malformed or out of range.
std::optional<int64_t> DurationNanos(const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999'999'999) return std::nullopt;
  if (d.seconds() > std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1) return std::nullopt;
  return d.seconds() * 1'000'000'000 + d.nanos();
}

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "OTHER";
  }
}

class QueryServiceImpl final : public api_v3::QueryService::Service {
 public:
  QueryServiceImpl(storage::SpanStore& store, common::MetricsRegistry& metrics)
      : store_(store), metrics_(metrics) {}

  grpc::Status GetTrace(grpc::ServerContext* context, const api_v3::GetTraceRequest* request,
                        grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return Observed("GetTrace", [&] {
      auto id = common::ParseTraceIdHex(request->trace_id());
      if (!id) {
        return Invalid(
            fmt::format("malformed trace_id: '{}' is not a hex trace ID of 1 to 32 "
                        "digits",
                        request->trace_id()));
      }
      // The time hints are validated only: a lookup by ID reads every partition anyway.
      for (const auto* t : {&request->start_time(), &request->end_time()}) {
        if (!TimestampNanos(*t)) {
          return Invalid(t == &request->start_time() ? "malformed start_time"
                                                     : "malformed end_time");
        }
      }
      auto trace = store_.GetTrace(*id);
      if (!trace.ok()) return StorageFailure(trace.status());
      // As Jaeger v2: a trace that is not stored ends the stream with no message.
      if (trace->has_value() && !writer->Write(**trace)) return Cancelled(context);
      return grpc::Status::OK;
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context, const api_v3::FindTracesRequest* request,
                          grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return Observed("FindTraces", [&] {
      if (!request->has_query()) return Invalid("missing query");
      const auto& p = request->query();
      storage::TraceQuery q;
      q.service = p.service_name();
      q.operation = p.operation_name();
      // A protobuf map has no order; Jaeger's answer does not depend on one either.
      for (const auto& [k, v] : p.attributes()) q.tags.emplace_back(k, v);
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
      q.limit = V3SearchLimit(p.search_depth());
      auto hits = store_.FindTraces(q);
      if (!hits.ok()) return StorageFailure(hits.status());
      for (auto& h : *hits) {
        std::optional<otlp_trace::TracesData> trace;
        if (h.trace != nullptr) {
          trace = std::move(*h.trace);
        } else {
          auto t = store_.GetTrace(h.trace_id);
          if (!t.ok()) return StorageFailure(t.status());
          trace = std::move(*t);  // nullopt: expired since the search
        }
        if (trace && !writer->Write(*trace)) return Cancelled(context);
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status GetServices(grpc::ServerContext*, const api_v3::GetServicesRequest*,
                           api_v3::GetServicesResponse* response) override {
    return Observed("GetServices", [&] {
      for (auto& s : store_.Services()) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext*, const api_v3::GetOperationsRequest* request,
                             api_v3::GetOperationsResponse* response) override {
    return Observed("GetOperations", [&] {
      if (request->service().empty()) return grpc::Status::OK;  // as the HTTP API: none
      for (const auto& op : store_.Operations(request->service(), request->span_kind())) {
        auto* out = response->add_operations();
        out->set_name(op.name);
        out->set_span_kind(std::string(V3SpanKind(op)));
      }
      return grpc::Status::OK;
    });
  }

 private:
  static grpc::Status Cancelled(grpc::ServerContext* context) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        context->IsCancelled() ? "cancelled by the client" : "stream closed");
  }

  // Runs one call, recording it in the query API's metrics (route = gRPC method).
  template <typename Fn>
  grpc::Status Observed(std::string_view method, Fn fn) {
    auto start = std::chrono::steady_clock::now();
    grpc::Status st;
    try {
      st = fn();
    } catch (const std::exception& e) {
      SPDLOG_ERROR("query-grpc {}: {}", method, e.what());
      st = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    RecordQueryCall(metrics_, fmt::format("/jaeger.api_v3.QueryService/{}", method),
                    std::string(CodeName(st.error_code())), start);
    return st;
  }

  storage::SpanStore& store_;
  common::MetricsRegistry& metrics_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartQueryGrpcServer(
    const std::string& endpoint, storage::SpanStore& store, common::MetricsRegistry& metrics) {
  return common::GrpcServer::Start({"query-grpc", endpoint, 0},
                                   std::make_shared<QueryServiceImpl>(store, metrics));
}

}  // namespace skua::query
