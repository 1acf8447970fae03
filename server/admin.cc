#include "server/admin.h"

namespace skua::server {

common::HttpHandler MakeAdminHandler(common::MetricsRegistry& metrics, std::atomic<bool>& ready,
                                     std::function<absl::Status()> readiness,
                                     std::function<absl::Status()> purge) {
  return [&metrics, &ready, readiness = std::move(readiness),
          purge = std::move(purge)](const common::HttpRequest& req) -> common::HttpResponse {
    const std::string text = "text/plain; charset=utf-8";
    if (req.path == "/purge") {
      // A one-off call from a test harness: the connection is not kept for another (Jaeger's
      // suite fails on an HTTP client connection still open when it ends).
      auto answer = [&](int status, std::string body) {
        common::HttpResponse r{status, text, {}, std::move(body)};
        r.close_connection = true;
        return r;
      };
      if (!purge) {
        return answer(404, "purge is disabled; admin.purge.enabled=true enables it (tests only)\n");
      }
      if (req.method != "POST") {
        auto r = answer(405, "Method Not Allowed\n");
        r.headers.emplace_back("Allow", "POST");
        return r;
      }
      if (absl::Status st = purge(); !st.ok()) {
        return answer(500, "purge failed: " + std::string(st.message()) + "\n");
      }
      return answer(200, "purged\n");
    }
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
