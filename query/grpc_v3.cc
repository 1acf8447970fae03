// jaeger.api_v3.QueryService over the query service.

#include <fmt/format.h>

#include "common/ids.h"
#include "jaeger/api_v3/query_service.grpc.pb.h"
#include "query/grpc_calls.h"

namespace skua::query {
namespace {

namespace api_v3 = ::jaeger::api_v3;

// jaeger.api_v3.QueryService: traces as OTLP, one stream message per trace.
class V3Service final : public api_v3::QueryService::Service {
 public:
  V3Service(QueryService& service, common::MetricsRegistry& metrics, common::Authenticator* auth,
            const common::Tenancy* tenancy)
      : calls_("jaeger.api_v3.QueryService", service, metrics, auth, tenancy) {}

  grpc::Status GetTrace(grpc::ServerContext* context, const api_v3::GetTraceRequest* request,
                        grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed(context, "GetTrace", [&](const std::string& tenant) {
      auto id = common::ParseTraceIdHex(request->trace_id());
      if (!id) {
        return Invalid(
            fmt::format("malformed trace_id: '{}' is not a hex trace ID of 1 to 32 digits",
                        request->trace_id()));
      }
      // The time hints are validated only: a lookup by ID reads every partition anyway.
      if (!TimestampNanos(request->start_time())) return Invalid("malformed start_time");
      if (!TimestampNanos(request->end_time())) return Invalid("malformed end_time");
      auto trace = calls_.service().GetTrace(
          tenant, *id,
          request->raw_traces() ? QueryService::Adjust::kRaw : QueryService::Adjust::kOtlp);
      if (!trace.ok()) return StorageFailure(trace.status());
      // As Jaeger v2: a trace that is not stored ends the stream with no message.
      if (!trace->has_value()) return grpc::Status::OK;
      if (!writer->Write(**trace)) return Calls::Cancelled(context);
      return grpc::Status::OK;
    });
  }

  grpc::Status FindTraces(grpc::ServerContext* context, const api_v3::FindTracesRequest* request,
                          grpc::ServerWriter<otlp_trace::TracesData>* writer) override {
    return calls_.Observed(context, "FindTraces", [&](const std::string& tenant) {
      if (!request->has_query()) return Invalid("missing query");
      storage::TraceQuery q;
      q.tenant = tenant;
      auto st = calls_.ParseSearchWithFilter(request->query(), request->query().attributes(), q);
      if (!st.ok()) return st;
      auto adjust =
          request->query().raw_traces() ? QueryService::Adjust::kRaw : QueryService::Adjust::kOtlp;
      return calls_.Search(q, adjust, context,
                           [&](otlp_trace::TracesData& t) { return writer->Write(t); });
    });
  }

  grpc::Status GetServices(grpc::ServerContext* context, const api_v3::GetServicesRequest*,
                           api_v3::GetServicesResponse* response) override {
    return calls_.Observed(context, "GetServices", [&](const std::string& tenant) {
      for (auto& s : calls_.service().Services(tenant)) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::Status GetOperations(grpc::ServerContext* context,
                             const api_v3::GetOperationsRequest* request,
                             api_v3::GetOperationsResponse* response) override {
    return calls_.Observed(context, "GetOperations", [&](const std::string& tenant) {
      for (const auto& op :
           calls_.service().Operations(tenant, request->service(), request->span_kind())) {
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

}  // namespace

std::shared_ptr<grpc::Service> MakeV3QueryService(QueryService& service,
                                                  common::MetricsRegistry& metrics,
                                                  common::Authenticator* auth,
                                                  const common::Tenancy* tenancy) {
  return std::make_shared<V3Service>(service, metrics, auth, tenancy);
}

}  // namespace skua::query
