// Query parameters of the v1 and api_v3 HTTP APIs: whatever the query string (and path), the
// handler answers with a status a client can act on (never 500; 501 only for what a
// structured filter asks and Skua does not serve) and, when it answers JSON,
// valid JSON. The first input byte picks the route, the rest is the query string.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/http_server.h"
#include "common/json_parse.h"
#include "common/metrics.h"
#include "query/http_api.h"
#include "tests/fuzz/temp_store.h"

namespace {

const skua::common::HttpHandler& Handler() {
  static skua::common::MetricsRegistry metrics;
  static skua::config::QueryConfig config = [] {
    skua::config::QueryConfig c;
    c.max_limit = 100;
    return c;
  }();
  static skua::query::QueryService service(skua::fuzz::TempStore(1), config,
                                           skua::fuzz::FuzzClock());
  static skua::common::HttpHandler handler = skua::query::MakeQueryHttpHandler(service, metrics);
  return handler;
}

constexpr const char* kRoutes[] = {
    "/api/traces",       "/api/services",          "/api/operations",
    "/api/dependencies", "/api/v3/traces",         "/api/v3/trace-summaries",
    "/api/v3/services",  "/api/v3/operations",     "/api/traces/",
    "/api/v3/traces/",   "/api/services/",         "/api/",
    "/api/v3/spans",     "/api/v3/attribute-keys", "/api/v3/attribute-values",
    "/api/search/tags",  "/api/v2/search/tags",    "/api/v2/search/tag/",
    "/api/search/tag/",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string route = kRoutes[data[0] % std::size(kRoutes)];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  skua::common::HttpRequest req;
  req.method = "GET";
  if (route.back() == '/') {
    // A path parameter: the text up to '?' is the trace ID or service, the rest the query.
    auto q = rest.find('?');
    req.path = route + rest.substr(0, q);
    if (q != std::string::npos) req.query = rest.substr(q + 1);
  } else {
    req.path = route;
    req.query = rest;
  }
  req.target = req.path + "?" + req.query;
  skua::common::HttpResponse r = Handler()(req);
  if ((r.status >= 500 && r.status != 501) || r.status < 200) __builtin_trap();
  if (r.content_type.find("json") != std::string::npos) {
    rapidjson::Document doc;
    if (skua::common::ParseJson(r.body, doc, 1000)) __builtin_trap();
  }
  return 0;
}
