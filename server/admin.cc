#include "server/admin.h"

namespace skua::server {

common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready,
                                     std::function<absl::Status()> readiness) {
  return [&metrics, &ready, readiness = std::move(readiness)](
             const common::HttpRequest& req) -> common::HttpResponse {
    const std::string text = "text/plain; charset=utf-8";
    if (req.method != "GET" && req.method != "HEAD") {
      return {405, text, {{"Allow", "GET"}}, "Method Not Allowed\n"};
    }
    if (req.path == "/metrics") {
      return {200, "text/plain; version=0.0.4; charset=utf-8", {}, metrics.RenderPrometheus()};
    }
    if (req.path == "/healthz") return {200, text, {}, "ok\n"};
    if (req.path == "/readyz") {
      if (!ready.load()) return {503, text, {}, "not ready: starting or stopping\n"};
      if (absl::Status st = readiness(); !st.ok()) {
        return {503, text, {}, "not ready: " + std::string(st.message()) + "\n"};
      }
      return {200, text, {}, "ready\n"};
    }
    return {404, text, {}, "404 page not found\n"};
  };
}

}  // namespace skua::server
