#include "query/http_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <optional>

#include "common/ids.h"
#include "common/status_macros.h"
#include "query/jaeger_json.h"
#include "query/json_util.h"
#include "query/otlp_json.h"

namespace skua::query {
namespace {

using common::HttpRequest;
using common::HttpResponse;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kV1TracesPrefix[] = "/api/traces/";
constexpr char kV3TracesPrefix[] = "/api/v3/traces/";

const std::string* Param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

// The canonical name wins over the deprecated alias when both are given (api_v3 gateway).
std::pair<const std::string*, std::string_view> ParamEither(const Params& params,
                                                            std::string_view canonical,
                                                            std::string_view alias) {
  if (const auto* v = Param(params, canonical)) return {v, canonical};
  return {Param(params, alias), alias};
}

std::string JsonEscape(std::string_view s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteString(w, s);
  return buf.GetString();
}

// Jaeger v1 error: Go's http.Error, so text/plain with a JSON body and a newline.
HttpResponse V1Error(int status, std::string_view msg) {
  return {status,
          "text/plain; charset=utf-8",
          {},
          fmt::format("{{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{{\"code\":"
                      "{},\"msg\":{}}}]}}\n",
                      status, JsonEscape(msg))};
}

HttpResponse V1Data(std::string data_json, int total, bool pretty) {
  std::string body = fmt::format(
      "{{\"data\":{},\"total\":{},\"limit\":0,\"offset\":0,\"errors\":null}}", data_json, total);
  return {200, "application/json", {}, pretty ? PrettyPrint(body) : std::move(body)};
}

// api_v3 gateway error: {"error":{"httpCode":N,"message":"…"}} via http.Error.
HttpResponse V3Error(int status, std::string_view msg) {
  return {
      status,
      "text/plain; charset=utf-8",
      {},
      fmt::format("{{\"error\":{{\"httpCode\":{},\"message\":{}}}}}\n", status, JsonEscape(msg))};
}

HttpResponse NotFoundPage() {
  return {404, "text/plain; charset=utf-8", {}, "404 page not found\n"};
}

// Go's strconv.ParseInt error text.
std::optional<std::string> CheckInt64(const std::string& v) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ptr != v.data() + v.size() || ec == std::errc::invalid_argument) {
    return fmt::format("strconv.ParseInt: parsing \"{}\": invalid syntax", v);
  }
  if (ec == std::errc::result_out_of_range) {
    return fmt::format("strconv.ParseInt: parsing \"{}\": value out of range", v);
  }
  return std::nullopt;
}

// Go's strconv.ParseBool.
std::optional<std::string> CheckBool(const std::string& v) {
  static const char* kValid[] = {"1", "t", "T", "TRUE",  "true",  "True",
                                 "0", "f", "F", "FALSE", "false", "False"};
  for (const char* s : kValid) {
    if (v == s) return std::nullopt;
  }
  return fmt::format("strconv.ParseBool: parsing \"{}\": invalid syntax", v);
}

// RFC 3339 with optional fractional seconds (Go's time.RFC3339Nano layout).
bool IsRfc3339(std::string_view s) {
  auto digits = [&](size_t at, size_t n) {
    if (at + n > s.size()) return false;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  };
  if (!digits(0, 4) || s.size() < 20 || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
      !digits(8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' ||
      !digits(14, 2) || s[16] != ':' || !digits(17, 2)) {
    return false;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i + 1) return false;
    i = j;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) && s[i + 3] == ':' &&
         digits(i + 4, 2);
}

class QueryApi {
 public:
  QueryApi(storage::SpanStore& store, common::MetricsRegistry& metrics)
      : store_(store), metrics_(metrics) {}

  HttpResponse Handle(const HttpRequest& req) {
    auto start = std::chrono::steady_clock::now();
    std::string route = "other";
    HttpResponse r = Route(req, route);
    metrics_
        .GetHistogram("skua_query_request_seconds", "Query API latency by route",
                      common::LatencyBucketsSeconds(), {{"route", route}})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    metrics_
        .GetCounter("skua_query_requests_total", "Query API requests by route and status",
                    {{"route", route}, {"code", std::to_string(r.status)}})
        .Increment();
    return r;
  }

 private:
  HttpResponse Route(const HttpRequest& req, std::string& route) {
    const std::string& path = req.path;
    if (path.rfind(kV3TracesPrefix, 0) == 0 && path.size() > sizeof(kV3TracesPrefix) - 1) {
      route = "/api/v3/traces/{trace_id}";
      if (req.method != "GET") return MethodNotAllowed();
      return GetTraceV3(req, path.substr(sizeof(kV3TracesPrefix) - 1));
    }
    if (path.rfind(kV1TracesPrefix, 0) == 0 && path.size() > sizeof(kV1TracesPrefix) - 1) {
      route = "/api/traces/{traceID}";
      if (req.method != "GET") return MethodNotAllowed();
      return GetTraceV1(req, path.substr(sizeof(kV1TracesPrefix) - 1));
    }
    return NotFoundPage();
  }

  static HttpResponse MethodNotAllowed() {
    return {405, "text/plain; charset=utf-8", {{"Allow", "GET"}}, "Method Not Allowed\n"};
  }

  HttpResponse GetTraceV1(const HttpRequest& req, std::string_view raw_id) {
    Params params = common::ParseQueryString(req.query);
    for (const char* name : {"start", "end"}) {
      if (const auto* v = Param(params, name)) {
        if (auto err = CheckInt64(*v)) {
          return V1Error(400, fmt::format("unable to parse param '{}': {}", name, *err));
        }
      }
    }
    if (const auto* v = Param(params, "raw")) {
      if (auto err = CheckBool(*v)) {
        return V1Error(400, fmt::format("unable to parse param 'raw': {}", *err));
      }
    }
    const auto* pp = Param(params, "prettyPrint");
    bool pretty = pp != nullptr && !pp->empty() && *pp != "false";

    auto decoded = common::PercentDecode(raw_id, false);
    auto id = decoded ? common::ParseTraceIdPath(*decoded) : std::nullopt;
    if (!id) {
      return V1Error(400, fmt::format("cannot parse traceID param: '{}' is not a hex trace ID of "
                                      "at most 32 digits",
                                      decoded.value_or(std::string(raw_id))));
    }
    // start/end are storage hints in Jaeger; a trace-by-ID lookup here needs none, so they are
    // validated and otherwise not needed (Grafana's millisecond hints are thus harmless).
    auto trace = store_.GetTrace(*id);
    if (!trace.ok()) {
      SPDLOG_WARN("get trace {}: {}", common::FormatTraceId32(*id), trace.status().message());
      return V1Error(500, common::Message(trace.status()));
    }
    if (!trace->has_value()) return V1Error(404, "trace not found");
    return V1Data("[" + RenderJaegerTrace(**trace) + "]", 0, pretty);
  }

  HttpResponse GetTraceV3(const HttpRequest& req, std::string_view raw_id) {
    Params params = common::ParseQueryString(req.query);
    for (auto [canonical, alias] :
         {std::pair{"startTime", "start_time"}, std::pair{"endTime", "end_time"}}) {
      auto [v, name] = ParamEither(params, canonical, alias);
      if (v != nullptr && !v->empty() && !IsRfc3339(*v)) {
        return V3Error(400, fmt::format("malformed parameter {}: parsing time \"{}\" as "
                                        "RFC 3339 failed",
                                        name, *v));
      }
    }
    {
      auto [v, name] = ParamEither(params, "rawTraces", "raw_traces");
      if (v != nullptr && !v->empty()) {
        if (auto err = CheckBool(*v)) {
          return V3Error(400, fmt::format("malformed parameter {}: {}", name, *err));
        }
      }
    }
    auto decoded = common::PercentDecode(raw_id, false);
    auto id = decoded ? common::ParseTraceIdPath(*decoded) : std::nullopt;
    if (!id) {
      return V3Error(400, fmt::format("malformed parameter trace_id: '{}' is not a hex trace ID "
                                      "of at most 32 digits",
                                      decoded.value_or(std::string(raw_id))));
    }
    auto trace = store_.GetTrace(*id);
    if (!trace.ok()) {
      SPDLOG_WARN("get trace {}: {}", common::FormatTraceId32(*id), trace.status().message());
      return V3Error(500, common::Message(trace.status()));
    }
    if (!trace->has_value()) return V3Error(404, "No traces found");
    return {200, "application/json", {}, "{\"result\":" + RenderOtlpTracesData(**trace) + "}"};
  }

  storage::SpanStore& store_;
  common::MetricsRegistry& metrics_;
};

}  // namespace

common::HttpHandler MakeQueryHttpHandler(storage::SpanStore& store,
                                         common::MetricsRegistry& metrics) {
  auto api = std::make_shared<QueryApi>(store, metrics);
  return [api](const HttpRequest& req) { return api->Handle(req); };
}

}  // namespace skua::query
