// jaeger.api_v2.QueryService over the query service: traces in Jaeger's span model.

#include <fmt/format.h>

#include <algorithm>

#include "common/ids.h"
#include "jaeger/api_v2/query.grpc.pb.h"
#include "query/grpc_calls.h"
#include "query/jaeger_model.h"

namespace skua::query {
namespace {

namespace api_v2 = ::jaeger::api_v2;

// jaeger.api_v2.QueryService: traces in Jaeger's span model (jaeger_model.h), as Jaeger's query
// port has served them since 1.x (Kiali and other tools call it).
class V2Service final : public api_v2::QueryService::Service {
 public:
  V2Service(QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth,
            const common::Tenancy* tenancy)
      : calls_("jaeger.api_v2.QueryService", service, metrics, auth, tenancy) {}

  grpc::Status GetTrace(grpc::ServerContext* context, const api_v2::GetTraceRequest* request,
                        grpc::ServerWriter<api_v2::SpansResponseChunk>* writer) override {
    return calls_.Observed(context, "GetTrace", [&](const std::string& tenant) {
      common::TraceId id;
      if (auto st = ParseTraceId(request->trace_id(), id); !st.ok()) return st;
      if (!TimestampNanos(request->start_time())) return Invalid("malformed start_time");
      if (!TimestampNanos(request->end_time())) return Invalid("malformed end_time");
      auto trace = calls_.service().GetTrace(tenant, id, QueryService::Adjust::kRaw);
      if (!trace.ok()) return StorageFailure(trace.status());
      if (!trace->has_value()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "trace not found");
      if (!SendInChunks(**trace, !request->raw_traces(), *writer)) return Calls::Cancelled(context);
      return grpc::Status::OK;
    });
  }

  grpc::Status ArchiveTrace(grpc::ServerContext* context,
                            const api_v2::ArchiveTraceRequest* request,
                            api_v2::ArchiveTraceResponse*) override {
    return calls_.Observed(context, "ArchiveTrace", [&](const std::string&) {
      common::TraceId id;
      if (auto st = ParseTraceId(request->trace_id(), id); !st.ok()) return st;
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "archive storage is not supported: traces are kept for "
                          "storage.retention (or its per-service override)");
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context, const api_v2::FindTracesRequest* request,
                          grpc::ServerWriter<api_v2::SpansResponseChunk>* writer) override {
    return calls_.Observed(context, "FindTraces", [&](const std::string& tenant) {
      if (!request->has_query()) return Invalid("missing query");
      storage::TraceQuery q;
      q.tenant = tenant;
      auto st = calls_.ParseSearch(request->query(), request->query().tags(), q);
      if (!st.ok()) return st;
      const bool raw = request->query().raw_traces();
      return calls_.Search(
          q, QueryService::Adjust::kRaw, context,
          [&](const otlp_trace::TracesData& t) { return SendInChunks(t, !raw, *writer); });
    });
  }

  grpc::Status GetServices(grpc::ServerContext* context, const api_v2::GetServicesRequest*,
                           api_v2::GetServicesResponse* response) override {
    return calls_.Observed(context, "GetServices", [&](const std::string& tenant) {
      for (auto& s : calls_.service().Services(tenant)) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext* context,
                             const api_v2::GetOperationsRequest* request,
                             api_v2::GetOperationsResponse* response) override {
    return calls_.Observed(context, "GetOperations", [&](const std::string& tenant) {
      std::vector<std::string> names;
      for (const auto& op :
           calls_.service().Operations(tenant, request->service(), request->span_kind())) {
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

  grpc::Status GetDependencies(grpc::ServerContext* context,
                               const api_v2::GetDependenciesRequest* request,
                               api_v2::GetDependenciesResponse* response) override {
    return calls_.Observed(context, "GetDependencies", [&](const std::string& tenant) {
      if (!request->has_start_time() || !request->has_end_time()) {
        return Invalid("start_time and end_time are required");
      }
      auto start = TimestampNanos(request->start_time()), end = TimestampNanos(request->end_time());
      if (!start) return Invalid("malformed start_time");
      if (!end) return Invalid("malformed end_time");
      if (*start > *end) return Invalid("start_time must not be after end_time");
      for (auto& l : calls_.service().Dependencies(tenant, {*start, *end}, "")) {
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

std::shared_ptr<grpc::Service> MakeV2QueryService(QueryService& service,
                                                  common::MetricsRegistry& metrics,
                                                  common::Authenticator* auth,
                                                  const common::Tenancy* tenancy) {
  return std::make_shared<V2Service>(service, metrics, auth, tenancy);
}

}  // namespace skua::query
