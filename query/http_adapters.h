// The query port's two HTTP APIs as adapters over the query service: each handler parses its
// parameters (answering the API's 400 when one is malformed), calls the service, and renders
// the answer in the API's envelope. One adapter serves one call, of one tenant ("" without
// tenancy). Routing and resolving the tenant are http_api.cc's. Private to query/.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/http_server.h"
#include "query/params.h"
#include "query/query_service.h"

namespace skua::query {

// Jaeger's v1 JSON API (/api/…): {"data":…,"total":…,"limit":0,"offset":0,"errors":…}; errors
// as Go's http.Error (text/plain with a JSON body).
class V1HttpApi {
 public:
  V1HttpApi(QueryService& service, std::string tenant)
      : service_(service), tenant_(std::move(tenant)) {}

  common::HttpResponse Services(const Params& params);
  common::HttpResponse ServiceOperations(const Params& params, std::string_view raw_service);
  common::HttpResponse Operations(const Params& params);
  common::HttpResponse GetTrace(const Params& params, std::string_view raw_id);
  common::HttpResponse FindTraces(const Params& params);
  common::HttpResponse Dependencies(const Params& params);

  // Jaeger's v1 error answer.
  static common::HttpResponse Fail(int status, std::string_view msg);

 private:
  common::HttpResponse GetTraces(const Params& params, const std::vector<std::string>& raw_ids,
                                 bool raw);

  QueryService& service_;
  const std::string tenant_;
};

// Jaeger's api_v3 HTTP gateway (/api/v3/…): OTLP/JSON traces; errors as
// {"error":{"httpCode":…,"message":…}}.
class V3HttpApi {
 public:
  V3HttpApi(QueryService& service, std::string tenant)
      : service_(service), tenant_(std::move(tenant)) {}

  common::HttpResponse Services();
  common::HttpResponse Operations(const Params& params);
  common::HttpResponse GetTrace(const Params& params, std::string_view raw_id);
  // /api/v3/traces, or /api/v3/trace-summaries when `summaries`.
  common::HttpResponse FindTraces(const Params& params, bool summaries);
  // Span search (Jaeger RFC 0016): GET /api/v3/spans.
  common::HttpResponse FindSpans(const Params& params);

  static common::HttpResponse Fail(int status, std::string_view msg);

 private:
  QueryService& service_;
  const std::string tenant_;
};

}  // namespace skua::query
