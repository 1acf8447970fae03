#include "query/grpc_api.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>

#include "common/ids.h"
#include "common/status_macros.h"
#include "jaeger/api_v2/query.grpc.pb.h"
#include "jaeger/api_v3/query_service.grpc.pb.h"
#include "query/api_v3.h"
#include "query/call_metrics.h"
#include "query/jaeger_model.h"
#include "query/otlp_adjust.h"
#include "query/read_traces.h"

namespace skua::query {
namespace {

namespace api_v2 = ::jaeger::api_v2;
namespace api_v3 = ::jaeger::api_v3;
namespace otlp_trace = ::opentelemetry::proto::trace::v1;

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status StorageFailure(const absl::Status& st) {
  if (st.code() == absl::StatusCode::kDeadlineExceeded) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the search took longer than query.timeout or the call's deadline; "
                        "narrow it (time range, service, limit)");
  }
  // The cause may name files of the data directory: it goes to the log only.
  SPDLOG_WARN("query-grpc: {}", st.message());
  return grpc::Status(static_cast<grpc::StatusCode>(st.code()),
                      "storage error; see the server's log");
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
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    default:
      return "OTHER";
  }
}

// What every query call needs: the store, the query settings, a clock for deadlines, and the
// metrics its calls are recorded in.
class Calls {
 public:
  Calls(std::string_view service, storage::SpanReader& store, const config::QueryConfig& config,
        common::Clock& clock, common::MetricsRegistry& metrics)
      : service_(service), store_(store), config_(config), clock_(clock), metrics_(metrics) {}
  storage::SpanReader& store() { return store_; }

  // Runs one call, recording it in the query API's metrics (route = gRPC method).
  template <typename Fn>
  grpc::Status Observed(std::string_view method, Fn fn) {
    auto start = std::chrono::steady_clock::now();
    grpc::Status st;
    try {
      st = fn();
    } catch (const std::exception& e) {
      SPDLOG_ERROR("query-grpc {}/{}: {}", service_, method, e.what());
      st = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    RecordQueryCall(metrics_, fmt::format("/{}/{}", service_, method),
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
    q.limit = SearchLimit(p.search_depth(), config_.max_limit);
    return grpc::Status::OK;
  }

  // Runs `q` and calls send(trace) for each trace found, newest first, until send returns
  // false (the client went away).
  // The search stops at query.timeout or the client's deadline, whichever comes first, and
  // when the client cancels.
  template <typename Send>
  grpc::Status Search(storage::TraceQuery q, grpc::ServerContext* context, Send send) {
    auto client_left = context->deadline() - std::chrono::system_clock::now();
    q.deadline_ns = SearchDeadline(
        clock_, std::min(config_.timeout,
                         std::chrono::duration_cast<std::chrono::milliseconds>(client_left)));
    auto hits = store_.FindTraces(q);
    if (!hits.ok()) return StorageFailure(hits.status());
    bool cancelled = false;
    auto st = ForEachHitTrace(store_, q, clock_, *hits, [&](otlp_trace::TracesData& t) {
      cancelled = context->IsCancelled() || !send(t);
      return !cancelled;
    });
    if (!st.ok()) return StorageFailure(st);
    return cancelled ? Cancelled(context) : grpc::Status::OK;
  }

  static grpc::Status Cancelled(grpc::ServerContext* context) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        context->IsCancelled() ? "cancelled by the client" : "stream closed");
  }

 private:
  std::string service_;
  storage::SpanReader& store_;
  const config::QueryConfig config_;
  common::Clock& clock_;
  common::MetricsRegistry& metrics_;
};

// jaeger.api_v3.QueryService: traces as OTLP, one stream message per trace.
class V3Service final : public api_v3::QueryService::Service {
 public:
  V3Service(storage::SpanReader& store, const config::QueryConfig& config, common::Clock& clock,
            common::MetricsRegistry& metrics)
      : calls_("jaeger.api_v3.QueryService", store, config, clock, metrics) {}

  grpc::Status GetTrace(grpc::ServerContext* context, const api_v3::GetTraceRequest* request,
                        grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed("GetTrace", [&] {
      auto id = common::ParseTraceIdHex(request->trace_id());
      if (!id) {
        return Invalid(
            fmt::format("malformed trace_id: '{}' is not a hex trace ID of 1 to 32 digits",
                        request->trace_id()));
      }
      // The time hints are validated only: a lookup by ID reads every partition anyway.
      if (!TimestampNanos(request->start_time())) return Invalid("malformed start_time");
      if (!TimestampNanos(request->end_time())) return Invalid("malformed end_time");
      auto trace = ReadTrace(calls_.store(), *id);
      if (!trace.ok()) return StorageFailure(trace.status());
      // As Jaeger v2: a trace that is not stored ends the stream with no message.
      if (!trace->has_value()) return grpc::Status::OK;
      if (!request->raw_traces()) AdjustOtlpAsJaegerQuery(**trace);
      if (!writer->Write(**trace)) return Calls::Cancelled(context);
      return grpc::Status::OK;
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context, const api_v3::FindTracesRequest* request,
                          grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed("FindTraces", [&] {
      if (!request->has_query()) return Invalid("missing query");
      storage::TraceQuery q;
      auto st = calls_.ParseSearch(request->query(), request->query().attributes(), q);
      if (!st.ok()) return st;
      const bool raw = request->query().raw_traces();
      return calls_.Search(q, context, [&](otlp_trace::TracesData& t) {
        if (!raw) AdjustOtlpAsJaegerQuery(t);
        return writer->Write(t);
      });
    });
  }

  grpc::Status GetServices(grpc::ServerContext*, const api_v3::GetServicesRequest*,
                           api_v3::GetServicesResponse* response) override {
    return calls_.Observed("GetServices", [&] {
      for (auto& s : calls_.store().Services()) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext*, const api_v3::GetOperationsRequest* request,
                             api_v3::GetOperationsResponse* response) override {
    return calls_.Observed("GetOperations", [&] {
      if (request->service().empty()) return grpc::Status::OK;  // as the HTTP API: none
      for (const auto& op : calls_.store().Operations(request->service(), request->span_kind())) {
        auto* out = response->add_operations();
        out->set_name(op.name);
        out->set_span_kind(std::string(V3SpanKind(op)));
      }
      return grpc::Status::OK;
    });
  }

 private:
  Calls calls_;
};

// jaeger.api_v2.QueryService: traces in Jaeger's span model (jaeger_model.h), as Jaeger's query
// port has served them since 1.x (Kiali and other tools call it).
class V2Service final : public api_v2::QueryService::Service {
 public:
  V2Service(storage::SpanReader& store, const config::QueryConfig& config, common::Clock& clock,
            common::MetricsRegistry& metrics)
      : calls_("jaeger.api_v2.QueryService", store, config, clock, metrics) {}

  grpc::Status GetTrace(grpc::ServerContext* context, const api_v2::GetTraceRequest* request,
                        grpc::ServerWriter<api_v2::SpansResponseChunk>* writer) override {
    return calls_.Observed("GetTrace", [&] {
      common::TraceId id;
      if (auto st = ParseTraceId(request->trace_id(), id); !st.ok()) return st;
      if (!TimestampNanos(request->start_time())) return Invalid("malformed start_time");
      if (!TimestampNanos(request->end_time())) return Invalid("malformed end_time");
      auto trace = ReadTrace(calls_.store(), id);
      if (!trace.ok()) return StorageFailure(trace.status());
      if (!trace->has_value()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "trace not found");
      if (!SendInChunks(**trace, !request->raw_traces(), *writer)) return Calls::Cancelled(context);
      return grpc::Status::OK;
    });
  }

  grpc::Status ArchiveTrace(grpc::ServerContext*, const api_v2::ArchiveTraceRequest* request,
                            api_v2::ArchiveTraceResponse*) override {
    return calls_.Observed("ArchiveTrace", [&] {
      common::TraceId id;
      if (auto st = ParseTraceId(request->trace_id(), id); !st.ok()) return st;
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "archive storage is not supported: traces are kept for "
                          "storage.retention (or its per-service override)");
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context, const api_v2::FindTracesRequest* request,
                          grpc::ServerWriter<api_v2::SpansResponseChunk>* writer) override {
    return calls_.Observed("FindTraces", [&] {
      if (!request->has_query()) return Invalid("missing query");
      storage::TraceQuery q;
      auto st = calls_.ParseSearch(request->query(), request->query().tags(), q);
      if (!st.ok()) return st;
      const bool raw = request->query().raw_traces();
      return calls_.Search(q, context, [&](const otlp_trace::TracesData& t) {
        return SendInChunks(t, !raw, *writer);
      });
    });
  }

  grpc::Status GetServices(grpc::ServerContext*, const api_v2::GetServicesRequest*,
                           api_v2::GetServicesResponse* response) override {
    return calls_.Observed("GetServices", [&] {
      for (auto& s : calls_.store().Services()) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext*, const api_v2::GetOperationsRequest* request,
                             api_v2::GetOperationsResponse* response) override {
    return calls_.Observed("GetOperations", [&] {
      if (request->service().empty()) return grpc::Status::OK;
      std::vector<std::string> names;
      for (const auto& op : calls_.store().Operations(request->service(), request->span_kind())) {
        auto* out = response->add_operations();
        out->set_name(op.name);
        out->set_span_kind(op.span_kind);
        names.push_back(op.name);
      }
      // The deprecated list of names: each once, sorted (the operations are sorted by name).
      names.erase(std::unique(names.begin(), names.end()), names.end());
      for (auto& n : names) response->add_operationnames(std::move(n));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetDependencies(grpc::ServerContext*, const api_v2::GetDependenciesRequest* request,
                               api_v2::GetDependenciesResponse* response) override {
    return calls_.Observed("GetDependencies", [&] {
      if (!request->has_start_time() || !request->has_end_time()) {
        return Invalid("start_time and end_time are required");
      }
      auto start = TimestampNanos(request->start_time()), end = TimestampNanos(request->end_time());
      if (!start) return Invalid("malformed start_time");
      if (!end) return Invalid("malformed end_time");
      if (*start > *end) return Invalid("start_time must not be after end_time");
      for (auto& l : calls_.store().Dependencies(*start, *end)) {
        auto* out = response->add_dependencies();
        out->set_parent(std::move(l.parent));
        out->set_child(std::move(l.child));
        out->set_call_count(l.call_count);
      }
      return grpc::Status::OK;
    });
  }

 private:
  // Jaeger sends a trace's spans in messages of at most this many.
  static constexpr int kSpansPerChunk = 10;

  // The request's trace ID: 16 bytes, or 8 for a 64-bit ID; Jaeger's error text for zero.
  static grpc::Status ParseTraceId(const std::string& raw, common::TraceId& id) {
    auto parsed = common::TraceId::FromBytes(raw);
    if (!parsed) {
      return Invalid(fmt::format("malformed trace_id: {} bytes, expected 16 (or 8)", raw.size()));
    }
    id = *parsed;
    if (std::all_of(raw.begin(), raw.end(), [](char c) { return c == 0; })) {
      return Invalid("uninitialized TraceID is not allowed");
    }
    return grpc::Status::OK;
  }

  static bool SendInChunks(const otlp_trace::TracesData& trace, bool adjust,
                           grpc::ServerWriter<api_v2::SpansResponseChunk>& writer) {
    google::protobuf::Arena arena;
    auto* all = google::protobuf::Arena::CreateMessage<api_v2::SpansResponseChunk>(&arena);
    AppendJaegerSpans(trace, adjust, *all);
    for (int i = 0; i < all->spans_size(); i += kSpansPerChunk) {
      auto* chunk = google::protobuf::Arena::CreateMessage<api_v2::SpansResponseChunk>(&arena);
      for (int j = i; j < all->spans_size() && j < i + kSpansPerChunk; ++j) {
        chunk->mutable_spans()->Add(std::move(*all->mutable_spans(j)));
      }
      if (!writer.Write(*chunk)) return false;
    }
    return true;
  }

  Calls calls_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<common::GrpcServer>> StartQueryGrpcServer(
    const config::QueryConfig& config, storage::SpanReader& store, common::Clock& clock,
    common::MetricsRegistry& metrics) {
  common::GrpcServerOptions options;
  options.name = "query-grpc";
  options.endpoint = config.grpc_endpoint;
  options.max_receive_message_bytes = 1 << 20;  // queries are small
  options.compressed = common::GrpcServerOptions::Compressed::kRefused;
  options.limits = config.grpc_limits;
  return common::GrpcServer::Start(options,
                                   {std::make_shared<V3Service>(store, config, clock, metrics),
                                    std::make_shared<V2Service>(store, config, clock, metrics)});
}

}  // namespace skua::query
