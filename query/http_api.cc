// The query port's HTTP handler: the route table (method + pattern), dispatch to the v1 and
// api_v3 adapters (http_v1.cc, http_v3.cc), and the per-call metrics.

#include "query/http_api.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "common/status_macros.h"
#include "query/call_metrics.h"
#include "query/http_adapters.h"
#include "query/http_common.h"
#include "query/router.h"

namespace skua::query {
namespace {

using common::HttpRequest;
using common::HttpResponse;

// The routes of the query port, in matching order.
enum RouteId {
  kV3Services,
  kV3Operations,
  kV3Traces,
  kV3TraceSummaries,
  kV3Spans,
  kV3Trace,
  kV1Services,
  kV1ServiceOperations,
  kV1Operations,
  kV1Traces,
  kV1Trace,
  kV1Dependencies,
  kAttributeKeys,
  kAttributeValues,
  kTempoTags,
  kTempoTagsV2,
  kTempoTagValues,
  kTempoTagValuesV2,
};

const Router& Routes() {
  static const Router kRoutes = [] {
    Router r;
    r.Add("/api/v3/services", kV3Services);
    r.Add("/api/v3/operations", kV3Operations);
    r.Add("/api/v3/traces", kV3Traces);
    r.Add("/api/v3/trace-summaries", kV3TraceSummaries);
    r.Add("/api/v3/spans", kV3Spans);
    r.Add("/api/v3/traces/{trace_id*}", kV3Trace);
    r.Add("/api/services", kV1Services);
    r.Add("/api/services/{service}/operations", kV1ServiceOperations);
    r.Add("/api/operations", kV1Operations);
    r.Add("/api/traces", kV1Traces);
    r.Add("/api/traces/{traceID}", kV1Trace);
    r.Add("/api/dependencies", kV1Dependencies);
    r.Add("/api/v3/attribute-keys", kAttributeKeys);
    r.Add("/api/v3/attribute-values", kAttributeValues);
    r.Add("/api/search/tags", kTempoTags);
    r.Add("/api/v2/search/tags", kTempoTagsV2);
    r.Add("/api/search/tag/{tag}/values", kTempoTagValues);
    r.Add("/api/v2/search/tag/{tag}/values", kTempoTagValuesV2);
    return r;
  }();
  return kRoutes;
}

class QueryHttpApi {
 public:
  QueryHttpApi(QueryService& service, common::MetricsRegistry& metrics,
               const common::Tenancy* tenancy)
      : service_(service), metrics_(metrics), tenancy_(tenancy) {}

  HttpResponse Handle(const HttpRequest& req) {
    auto start = std::chrono::steady_clock::now();
    std::string route = "other";
    HttpResponse r;
    try {
      r = Route(req, route);
    } catch (const std::exception& e) {
      SPDLOG_ERROR("query {}: {}", req.target, e.what());
      r = V1HttpApi::Fail(500, "internal error");
    }
    RecordQueryCall(metrics_, route, std::to_string(r.status), start);
    return r;
  }

 private:
  HttpResponse Route(const HttpRequest& req, std::string& route) {
    auto match = Routes().Find(req.path);
    if (!match) return NotFoundPage();
    route = *match->pattern;
    if (req.method != "GET") return MethodNotAllowed();
    std::string tenant;
    if (tenancy_ != nullptr && tenancy_->enabled()) {
      auto resolved = tenancy_->Resolve(req.Header(tenancy_->header()));
      if (!resolved.ok()) {
        const absl::Status& st = resolved.status();
        int status = common::TenantRefusalHttpStatus(st);
        bool v3 =
            match->id <= kV3Trace || match->id == kAttributeKeys || match->id == kAttributeValues;
        return v3 ? V3HttpApi::Fail(status, common::Message(st))
                  : V1HttpApi::Fail(status, common::Message(st));
      }
      tenant = std::move(*resolved);
    }
    V1HttpApi v1(service_, tenant);
    AutocompleteHttpApi autocomplete(service_, tenant);
    V3HttpApi v3(service_, std::move(tenant));
    Params params = common::ParseQueryString(req.query);
    switch (static_cast<RouteId>(match->id)) {
      case kV3Services:
        return v3.Services();
      case kV3Operations:
        return v3.Operations(params);
      case kV3Traces:
        return v3.FindTraces(params, false);
      case kV3TraceSummaries:
        return v3.FindTraces(params, true);
      case kV3Spans:
        return v3.FindSpans(params);
      case kV3Trace:
        return v3.GetTrace(params, match->params[0]);
      case kV1Services:
        return v1.Services(params);
      case kV1ServiceOperations:
        return v1.ServiceOperations(params, match->params[0]);
      case kV1Operations:
        return v1.Operations(params);
      case kV1Traces:
        return v1.FindTraces(params);
      case kV1Trace:
        return v1.GetTrace(params, match->params[0]);
      case kV1Dependencies:
        return v1.Dependencies(params);
      case kAttributeKeys:
        return autocomplete.Keys(params);
      case kAttributeValues:
        return autocomplete.Values(params);
      case kTempoTags:
        return autocomplete.TempoTags(params);
      case kTempoTagsV2:
        return autocomplete.TempoTagsV2(params);
      case kTempoTagValues:
        return autocomplete.TempoTagValues(params, match->params[0], false);
      case kTempoTagValuesV2:
        return autocomplete.TempoTagValues(params, match->params[0], true);
    }
    return NotFoundPage();
  }

  QueryService& service_;
  common::MetricsRegistry& metrics_;
  const common::Tenancy* const tenancy_;
};

}  // namespace

common::HttpHandler MakeQueryHttpHandler(QueryService& service, common::MetricsRegistry& metrics,
                                         const common::Tenancy* tenancy) {
  auto api = std::make_shared<QueryHttpApi>(service, metrics, tenancy);
  return [api](const HttpRequest& req) { return api->Handle(req); };
}

bool IsSearchRequest(const common::HttpRequest& req) {
  auto match = Routes().Find(req.path);
  if (!match) return false;
  switch (match->id) {
    case kV3Traces:
    case kV3TraceSummaries:
    case kV1Traces:
    case kV1Dependencies:
      return true;
    default:
      return false;
  }
}

}  // namespace skua::query
