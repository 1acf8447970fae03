// The query port's two HTTP APIs as adapters over the query service: each handler parses its
// parameters (answering the API's 400 when one is malformed), calls the service, and renders
// the answer in the API's envelope. One adapter serves one call, of one tenant ("" without
// tenancy). Routing and resolving the tenant are http_api.cc's. Private to query/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_server.h"
#include "query/http_common.h"
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

// Autocomplete (http_autocomplete.cc): Skua's /api/v3/attribute-keys and
// /api/v3/attribute-values (api_v3's error envelope), and Tempo's tag endpoints as Grafana's
// Tempo data source calls them (errors as v1's plain text).
class AutocompleteHttpApi {
 public:
  AutocompleteHttpApi(QueryService& service, std::string tenant);

  common::HttpResponse Keys(const Params& params);
  common::HttpResponse Values(const Params& params);
  common::HttpResponse TempoTags(const Params& params);    // /api/search/tags
  common::HttpResponse TempoTagsV2(const Params& params);  // /api/v2/search/tags
  // /api/search/tag/{tag}/values, or /api/v2/search/tag/{tag}/values when `v2`.
  common::HttpResponse TempoTagValues(const Params& params, std::string_view raw_tag, bool v2);

 private:
  struct Tag {
    filter::Level level = filter::Level::kNone;
    std::string key;
    std::string intrinsic;  // "name", "status" or "kind"; else an attribute
  };
  std::optional<common::HttpResponse> ParseCommon(const Params& params,
                                                  storage::AttributeQuery& q) const;
  std::optional<common::HttpResponse> LimitFrom(const Params& params, storage::AttributeQuery& q,
                                                FailFn fail) const;
  std::optional<common::HttpResponse> TempoQuery(const Params& params,
                                                 storage::AttributeQuery& q) const;
  static std::string TempoService(const Params& params);
  static std::optional<Tag> ParseTempoTag(std::string_view raw, bool scoped);
  std::vector<std::string> TagNames(storage::AttributeQuery q, filter::Level level);
  std::vector<std::pair<std::string, std::string>> TagValues(const storage::AttributeQuery& base,
                                                             const Tag& tag);

  QueryService& service_;
  const std::string tenant_;
};

}  // namespace skua::query
