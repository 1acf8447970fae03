// Cross-origin resource sharing for browsers on an HTTP port: answering preflight requests and
// marking the answers a page of an allowed origin may read. Nothing is allowed unless
// configured. Semantics follow the OpenTelemetry Collector's `cors` settings (allowed origins
// with `*` wildcards, allowed headers beyond the CORS-safelisted ones, max age).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/http_server.h"

namespace skua::common {

struct CorsPolicy {
  // Origins ("https://app.example.com") whose pages may call the port: exact (case-insensitive),
  // "*" for any, or with one "*" standing for any run of characters ("https://*.example.com").
  // Empty: CORS is off and the port answers as if no browser were involved.
  std::vector<std::string> allowed_origins;
  // Request headers a page may send beyond the CORS-safelisted ones (Accept, Accept-Language,
  // Content-Language, Content-Type); "*" for any.
  std::vector<std::string> allowed_headers;
  // How long a browser may cache a preflight answer; 0 = not said.
  std::chrono::seconds max_age{0};

  bool enabled() const { return !allowed_origins.empty(); }
  bool AllowsOrigin(std::string_view origin) const;
};

// `handler` with `policy` applied: an OPTIONS preflight (Origin and
// Access-Control-Request-Method headers) is answered 204 here — with the Access-Control-Allow-*
// headers if the origin, the method (one of `methods`) and every requested header are allowed,
// without them otherwise — and every other answer to an allowed origin carries
// Access-Control-Allow-Origin. With CORS off, returns `handler` itself.
HttpHandler WithCors(CorsPolicy policy, std::vector<std::string> methods, HttpHandler handler);

}  // namespace skua::common
