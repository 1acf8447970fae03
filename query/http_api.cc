#include "query/http_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "common/ids.h"
#include "common/json_write.h"
#include "common/status_macros.h"
#include "model/otlp_json.h"
#include "model/values.h"
#include "query/api_v3.h"
#include "query/call_metrics.h"
#include "query/jaeger_json.h"
#include "query/otlp_adjust.h"
#include "query/params.h"
#include "query/read_traces.h"
#include "query/router.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
using common::HttpRequest;
using common::HttpResponse;

constexpr int64_t kDefaultSearchLookback = 48LL * 3600 * 1'000'000'000;      // v1 search
constexpr int64_t kDefaultDependencyLookback = 24LL * 3600 * 1'000'000'000;  // dependencies
constexpr char kText[] = "text/plain; charset=utf-8";

std::string JsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  common::WriteString(w, s);
  return buf.GetString();
}

// ---- v1 envelope ----

struct V1Error {
  int code;  // 0 = omitted
  std::string msg;
  std::string trace_id;  // "" = omitted
};

std::string V1Errors(const std::vector<V1Error>& errors) {
  if (errors.empty()) return "null";
  std::string out = "[";
  for (const auto& e : errors) {
    if (out.size() > 1) out += ",";
    out += "{";
    if (e.code != 0) out += fmt::format("\"code\":{},", e.code);
    out += "\"msg\":" + JsonString(e.msg);
    if (!e.trace_id.empty()) out += ",\"traceID\":" + JsonString(e.trace_id);
    out += "}";
  }
  return out + "]";
}

// Jaeger v1 error: Go's http.Error, so text/plain with a JSON body and a newline.
HttpResponse V1Fail(int status, std::string_view msg) {
  return {status,
          kText,
          {},
          fmt::format("{{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":{}}}\n",
                      V1Errors({{status, std::string(msg), ""}}))};
}

HttpResponse V1Data(const std::string& data_json, int total, bool pretty,
                    const std::vector<V1Error>& errors = {}) {
  std::string body =
      fmt::format("{{\"data\":{},\"total\":{},\"limit\":0,\"offset\":0,\"errors\":{}}}", data_json,
                  total, V1Errors(errors));
  return {200, "application/json", {}, pretty ? common::PrettyPrint(body) : std::move(body)};
}

// ---- api_v3 envelope ----

HttpResponse V3Fail(int status, std::string_view msg) {
  return {
      status,
      kText,
      {},
      fmt::format("{{\"error\":{{\"httpCode\":{},\"message\":{}}}}}\n", status, JsonString(msg))};
}

HttpResponse V3Json(std::string body) { return {200, "application/json", {}, std::move(body)}; }

HttpResponse NotFoundPage() { return {404, kText, {}, "404 page not found\n"}; }
HttpResponse MethodNotAllowed() { return {405, kText, {{"Allow", "GET"}}, "Method Not Allowed\n"}; }

std::string JsonStringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& s : items) {
    if (out.size() > 1) out += ",";
    out += JsonString(s);
  }
  return out + "]";
}

std::string NotATraceId(std::string_view raw) {
  return fmt::format("'{}' is not a hex trace ID of at most 32 digits", raw);
}

// A trace ID from a URL path segment: percent-decoded, then hex or base64 (Jaeger's rule).
absl::StatusOr<common::TraceId> PathTraceId(std::string_view raw) {
  auto decoded = common::PercentDecode(raw, false);
  auto id = decoded ? common::ParseTraceIdPath(*decoded) : std::nullopt;
  if (!id) return absl::InvalidArgumentError(NotATraceId(decoded.value_or(std::string(raw))));
  return *id;
}

// [{"name":…,"spanKind":…}], the kind as `kind_of` reports it for each operation.
std::string OperationsJson(const std::vector<storage::Operation>& ops,
                           std::string_view (*kind_of)(const storage::Operation&)) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartArray();
  for (const auto& op : ops) {
    w.StartObject();
    common::WriteKey(w, "name");
    common::WriteString(w, op.name);
    common::WriteKey(w, "spanKind");
    common::WriteString(w, kind_of(op));
    w.EndObject();
  }
  w.EndArray();
  return buf.GetString();
}

// Parses the optional v1 parameter `name` with `parse` into *out (unchanged when absent).
// Returns Jaeger's 400 answer when it is malformed.
template <typename Parse, typename T>
std::optional<HttpResponse> V1Param(const Params& params, const char* name, Parse parse, T* out) {
  const auto* v = Param(params, name);
  if (v == nullptr || v->empty()) return std::nullopt;
  auto r = parse(*v);
  if (!r.ok()) {
    return V1Fail(400,
                  fmt::format("unable to parse param '{}': {}", name, common::Message(r.status())));
  }
  *out = *r;
  return std::nullopt;
}

// The api_v3 counterpart: the first of `names` present (canonical name first), parsed into *out;
// Jaeger's gateway 400 answer when malformed.
template <typename Parse, typename T>
std::optional<HttpResponse> V3Param(const Params& params,
                                    std::initializer_list<std::string_view> names, Parse parse,
                                    T* out) {
  auto [v, name] = ParamAny(params, names);
  if (v == nullptr || v->empty()) return std::nullopt;
  auto r = parse(*v);
  if (!r.ok()) {
    return V3Fail(400,
                  fmt::format("malformed parameter {}: {}", name, common::Message(r.status())));
  }
  *out = *r;
  return std::nullopt;
}

bool Pretty(const Params& params) {
  const auto* pp = Param(params, "prettyPrint");
  return pp != nullptr && !pp->empty() && *pp != "false";
}

// Appends every ResourceSpans of `from` to `to`.
void Concatenate(otlp_trace::TracesData& to, otlp_trace::TracesData&& from) {
  for (auto& rs : *from.mutable_resource_spans()) *to.add_resource_spans() = std::move(rs);
}

// api_v3 TraceSummary of one trace.
std::string RenderSummary(const otlp_trace::TracesData& td) {
  struct ServiceCount {
    int spans = 0, errors = 0;
  };
  std::map<std::string, ServiceCount> services;
  std::set<std::string> span_ids;
  uint64_t min_start = UINT64_MAX, max_end = 0;
  int spans = 0, errors = 0, orphans = 0;
  const otlp_trace::Span* root = nullptr;
  std::string root_service;
  std::string trace_id;
  for (const auto& rs : td.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) span_ids.insert(s.span_id());
    }
  }
  for (const auto& rs : td.resource_spans()) {
    std::string service = skua::model::ServiceNameOf(rs.resource());
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (trace_id.empty()) trace_id = common::HexEncode(s.trace_id());
        ++spans;
        bool err = s.status().code() == otlp_trace::Status::STATUS_CODE_ERROR;
        errors += err;
        auto& sc = services[service];
        ++sc.spans;
        sc.errors += err;
        min_start = std::min(min_start, s.start_time_unix_nano());
        max_end = std::max(max_end, s.end_time_unix_nano());
        if (s.parent_span_id().empty()) {
          if (root == nullptr || s.start_time_unix_nano() < root->start_time_unix_nano()) {
            root = &s;
            root_service = service;
          }
        } else if (!span_ids.count(s.parent_span_id())) {
          ++orphans;
        }
      }
    }
  }
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartObject();
  common::WriteKey(w, "traceId");
  common::WriteString(w, trace_id);
  common::WriteKey(w, "rootServiceName");
  common::WriteString(w, root ? root_service : "");
  common::WriteKey(w, "rootOperationName");
  common::WriteString(w, root ? root->name() : "");
  common::WriteKey(w, "minStartTimeUnixNano");
  common::WriteString(w, std::to_string(spans ? min_start : 0));
  common::WriteKey(w, "maxEndTimeUnixNano");
  common::WriteString(w, std::to_string(max_end));
  common::WriteKey(w, "spanCount");
  w.Int(spans);
  common::WriteKey(w, "errorSpanCount");
  w.Int(errors);
  common::WriteKey(w, "orphanSpanCount");
  w.Int(orphans);
  common::WriteKey(w, "services");
  w.StartArray();
  for (const auto& [name, c] : services) {
    w.StartObject();
    common::WriteKey(w, "name");
    common::WriteString(w, name);
    common::WriteKey(w, "spanCount");
    w.Int(c.spans);
    common::WriteKey(w, "errorSpanCount");
    w.Int(c.errors);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

// The routes of the query port, in matching order.
enum RouteId {
  kV3Services,
  kV3Operations,
  kV3Traces,
  kV3TraceSummaries,
  kV3Trace,
  kV1Services,
  kV1ServiceOperations,
  kV1Operations,
  kV1Traces,
  kV1Trace,
  kV1Dependencies,
};

const Router& Routes() {
  static const Router kRoutes = [] {
    Router r;
    r.Add("/api/v3/services", kV3Services);
    r.Add("/api/v3/operations", kV3Operations);
    r.Add("/api/v3/traces", kV3Traces);
    r.Add("/api/v3/trace-summaries", kV3TraceSummaries);
    r.Add("/api/v3/traces/{trace_id*}", kV3Trace);
    r.Add("/api/services", kV1Services);
    r.Add("/api/services/{service}/operations", kV1ServiceOperations);
    r.Add("/api/operations", kV1Operations);
    r.Add("/api/traces", kV1Traces);
    r.Add("/api/traces/{traceID}", kV1Trace);
    r.Add("/api/dependencies", kV1Dependencies);
    return r;
  }();
  return kRoutes;
}

class QueryApi {
 public:
  QueryApi(storage::SpanReader& store, const config::QueryConfig& config, common::Clock& clock,
           common::MetricsRegistry& metrics)
      : store_(store), config_(config), clock_(clock), metrics_(metrics) {}

  HttpResponse Handle(const HttpRequest& req) {
    auto start = std::chrono::steady_clock::now();
    std::string route = "other";
    HttpResponse r;
    try {
      r = Route(req, route);
    } catch (const std::exception& e) {
      SPDLOG_ERROR("query {}: {}", req.target, e.what());
      r = V1Fail(500, "internal error");
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
    Params params = common::ParseQueryString(req.query);
    switch (static_cast<RouteId>(match->id)) {
      case kV3Services:
        return V3Services();
      case kV3Operations:
        return V3Operations(params);
      case kV3Traces:
        return V3FindTraces(params, false);
      case kV3TraceSummaries:
        return V3FindTraces(params, true);
      case kV3Trace:
        return V3GetTrace(params, match->params[0]);
      case kV1Services:
        return V1Services(params);
      case kV1ServiceOperations:
        return V1ServiceOperations(params, match->params[0]);
      case kV1Operations:
        return V1Operations(params);
      case kV1Traces:
        return V1FindTraces(params);
      case kV1Trace:
        return V1GetTrace(params, match->params[0]);
      case kV1Dependencies:
        return V1Dependencies(params);
    }
    return NotFoundPage();
  }

  // Runs a search with the query's deadline (query.timeout).
  absl::StatusOr<std::vector<storage::TraceHit>> Find(storage::TraceQuery& q) {
    q.deadline_ns = SearchDeadline(clock_, config_.timeout);
    return store_.FindTraces(q);
  }

  // The traces of a search's hits, in hit order (read_traces.h), until the deadline passes or
  // their span data exceeds query.max_response_bytes (then *cut is set and the rest left out).
  absl::StatusOr<std::vector<otlp_trace::TracesData>> Fetch(std::vector<storage::TraceHit>& hits,
                                                            const storage::TraceQuery& q,
                                                            bool* cut) {
    std::vector<otlp_trace::TracesData> out;
    uint64_t bytes = 0;
    *cut = false;
    SKUA_RETURN_IF_ERROR(ForEachHitTrace(store_, q, clock_, hits, [&](otlp_trace::TracesData& t) {
      bytes += t.ByteSizeLong();
      if (bytes > config_.max_response_bytes && !out.empty()) {
        *cut = true;
        return false;
      }
      out.push_back(std::move(t));
      return true;
    }));
    return out;
  }

  // ---- v1 ----

  HttpResponse V1Services(const Params& params) {
    auto services = store_.Services();
    return V1Data(JsonStringArray(services), static_cast<int>(services.size()), Pretty(params));
  }

  HttpResponse V1ServiceOperations(const Params& params, std::string_view raw_service) {
    auto service = common::PercentDecode(raw_service, true);  // Go's url.QueryUnescape
    if (!service) return V1Fail(400, fmt::format("invalid URL escape in '{}'", raw_service));
    std::vector<std::string> names;
    for (const auto& op : store_.Operations(*service, "")) {
      if (names.empty() || names.back() != op.name) names.push_back(op.name);
    }
    return V1Data(JsonStringArray(names), static_cast<int>(names.size()), Pretty(params));
  }

  HttpResponse V1Operations(const Params& params) {
    const auto* service = Param(params, "service");
    if (service == nullptr || service->empty()) {
      return V1Fail(400, "parameter 'service' is required");
    }
    const auto* kind = Param(params, "spanKind");
    auto ops = store_.Operations(*service, kind ? *kind : "");
    auto as_stored = [](const storage::Operation& op) { return std::string_view(op.span_kind); };
    return V1Data(OperationsJson(ops, as_stored), static_cast<int>(ops.size()), Pretty(params));
  }

  // Validates the start/end/raw parameters shared by trace lookups; `raw` gets the last.
  static std::optional<HttpResponse> CheckV1Hints(const Params& params, bool& raw) {
    int64_t hint = 0;
    if (auto bad = V1Param(params, "start", ParseInt64, &hint)) return bad;
    if (auto bad = V1Param(params, "end", ParseInt64, &hint)) return bad;
    return V1Param(params, "raw", ParseBool, &raw);
  }

  HttpResponse V1GetTrace(const Params& params, std::string_view raw_id) {
    bool raw = false;
    if (auto bad = CheckV1Hints(params, raw)) return *bad;
    auto id = PathTraceId(raw_id);
    if (!id.ok()) {
      return V1Fail(400,
                    fmt::format("cannot parse traceID param: {}", common::Message(id.status())));
    }
    // start/end are storage hints in Jaeger; a lookup by ID needs none here, so they are only
    // validated (and Grafana's millisecond hints are thus harmless).
    auto trace = ReadTrace(store_, *id);
    if (!trace.ok()) return StorageFailure(trace.status(), V1Fail);
    if (!trace->has_value()) return V1Fail(404, "trace not found");
    return V1Data("[" + RenderJaegerTrace(**trace, !raw) + "]", 0, Pretty(params));
  }

  HttpResponse V1FindTraces(const Params& params) {
    int64_t now = clock_.NowNanos();
    storage::TraceQuery q;
    if (const auto* v = Param(params, "service")) q.service = *v;
    if (const auto* v = Param(params, "operation")) q.operation = *v;
    std::optional<int64_t> start_ns, end_ns;
    if (auto bad = V1Param(params, "start", ParseUnixMicrosAsNanos, &start_ns)) return *bad;
    if (auto bad = V1Param(params, "end", ParseUnixMicrosAsNanos, &end_ns)) return *bad;
    q.start_max_ns = end_ns ? *end_ns : now;
    q.start_min_ns =
        start_ns ? *start_ns : std::max<int64_t>(0, q.start_max_ns - kDefaultSearchLookback);
    q.limit = SearchLimit(0, config_.max_limit);
    if (const auto* v = Param(params, "limit"); v != nullptr && !v->empty()) {
      auto r = ParseInt64(*v);
      if (!r.ok()) return V1Fail(400, common::Message(r.status()));
      q.limit = SearchLimit(*r, config_.max_limit);
    }
    std::map<std::string, std::string> tags;
    std::vector<std::string> tag_order;
    auto put_tag = [&](const std::string& k, const std::string& v) {
      if (!tags.count(k)) tag_order.push_back(k);
      tags[k] = v;
    };
    for (const auto& t : ParamAll(params, "tag")) {
      auto colon = t.find(':');
      if (colon == std::string::npos) {
        return V1Fail(
            400, fmt::format("malformed 'tag' parameter, expecting key:value, received: {}", t));
      }
      put_tag(t.substr(0, colon), t.substr(colon + 1));
    }
    for (const auto& js : ParamAll(params, "tags")) {
      auto parsed = ParseStringMapJson(js);
      if (!parsed.ok()) {
        return V1Fail(400, fmt::format("malformed 'tags' parameter, cannot unmarshal JSON: {}",
                                       common::Message(parsed.status())));
      }
      for (const auto& [k, v] : *parsed) put_tag(k, v);
    }
    for (const auto& k : tag_order) q.tags.emplace_back(k, tags[k]);
    if (auto bad = V1Param(params, "minDuration", ParseDurationNanos, &q.duration_min_ns)) {
      return *bad;
    }
    if (auto bad = V1Param(params, "maxDuration", ParseDurationNanos, &q.duration_max_ns)) {
      return *bad;
    }
    if (q.duration_min_ns != 0 && q.duration_max_ns != 0 && q.duration_max_ns < q.duration_min_ns) {
      return V1Fail(400, "'maxDuration' should be greater than 'minDuration'");
    }
    bool raw = false;  // true: traces without Jaeger's adjusters
    if (auto bad = V1Param(params, "raw", ParseBool, &raw)) return *bad;

    auto trace_ids = ParamAll(params, "traceID");
    if (!trace_ids.empty()) return V1GetTraces(params, trace_ids, raw);

    auto hits = Find(q);
    if (!hits.ok()) return StorageFailure(hits.status(), V1Fail);
    bool cut = false;
    auto traces = Fetch(*hits, q, &cut);
    if (!traces.ok()) return StorageFailure(traces.status(), V1Fail);
    std::string data = "[";
    for (const auto& t : *traces) {
      if (data.size() > 1) data += ",";
      data += RenderJaegerTrace(t, !raw);
    }
    data += "]";
    std::vector<V1Error> errors;
    if (cut) errors.push_back({0, TruncatedMessage(traces->size(), hits->size()), ""});
    return V1Data(data, 0, Pretty(params), errors);
  }

  // `traceID=` multi-get: other filters are ignored; missing IDs are reported in `errors`.
  HttpResponse V1GetTraces(const Params& params, const std::vector<std::string>& raw_ids,
                           bool raw) {
    std::vector<common::TraceId> ids;
    for (const auto& raw : raw_ids) {
      auto id = common::ParseTraceIdHex(raw);
      if (!id) {
        return V1Fail(400, fmt::format("cannot parse traceID param: {}", NotATraceId(raw)));
      }
      ids.push_back(*id);
    }
    std::string data = "[";
    std::vector<V1Error> errors;
    for (const auto& id : ids) {
      auto t = ReadTrace(store_, id);
      if (!t.ok()) return StorageFailure(t.status(), V1Fail);
      if (!t->has_value()) {
        errors.push_back({0, "trace not found", common::FormatTraceIdJaeger(id)});
        continue;
      }
      if (data.size() > 1) data += ",";
      data += RenderJaegerTrace(**t, !raw);
    }
    data += "]";
    return V1Data(data, 0, Pretty(params), errors);
  }

  HttpResponse V1Dependencies(const Params& params) {
    int64_t end_ns = clock_.NowNanos();
    int64_t lookback_ns = kDefaultDependencyLookback;
    if (auto bad = V1Param(params, "endTs", ParseUnixMillisAsNanos, &end_ns)) return *bad;
    if (auto bad = V1Param(params, "lookback", ParseMillisAsNanos, &lookback_ns)) return *bad;
    const auto* service = Param(params, "service");
    auto links = store_.Dependencies(std::max<int64_t>(0, end_ns - lookback_ns), end_ns);
    rapidjson::StringBuffer buf;
    common::JsonWriter w(buf);
    w.StartArray();
    for (const auto& l : links) {
      if (service != nullptr && !service->empty() && l.parent != *service && l.child != *service) {
        continue;
      }
      w.StartObject();
      common::WriteKey(w, "parent");
      common::WriteString(w, l.parent);
      common::WriteKey(w, "child");
      common::WriteString(w, l.child);
      common::WriteKey(w, "callCount");
      w.Uint64(l.call_count);
      w.EndObject();
    }
    w.EndArray();
    return V1Data(buf.GetString(), 0, Pretty(params));
  }

  // ---- api_v3 ----

  HttpResponse V3Services() {
    return V3Json(fmt::format("{{\"services\":{}}}", JsonStringArray(store_.Services())));
  }

  HttpResponse V3Operations(const Params& params) {
    const auto* service = Param(params, "service");
    auto [kind, kind_name] = ParamEither(params, "spanKind", "span_kind");
    std::vector<storage::Operation> ops;
    if (service != nullptr) ops = store_.Operations(*service, kind ? *kind : "");
    return V3Json("{\"operations\":" + OperationsJson(ops, V3SpanKind) + "}");
  }

  HttpResponse V3GetTrace(const Params& params, std::string_view raw_id) {
    // The time hints and rawTraces are validated only (see V1GetTrace).
    int64_t hint = 0;
    bool raw = false;
    if (auto bad = V3Param(params, {"startTime", "start_time"}, ParseRfc3339Nanos, &hint)) {
      return *bad;
    }
    if (auto bad = V3Param(params, {"endTime", "end_time"}, ParseRfc3339Nanos, &hint)) {
      return *bad;
    }
    if (auto bad = V3Param(params, {"rawTraces", "raw_traces"}, ParseBool, &raw)) return *bad;
    auto id = PathTraceId(raw_id);
    if (!id.ok()) {
      return V3Fail(400,
                    fmt::format("malformed parameter trace_id: {}", common::Message(id.status())));
    }
    auto trace = ReadTrace(store_, *id);
    if (!trace.ok()) return StorageFailure(trace.status(), V3Fail);
    if (!trace->has_value()) return V3Fail(404, "No traces found");
    if (!raw) AdjustOtlpAsJaegerQuery(**trace);
    return V3Json("{\"result\":" + skua::model::RenderOtlpTracesData(**trace) + "}");
  }

  HttpResponse V3FindTraces(const Params& params, bool summaries) {
    storage::TraceQuery q;
    if (auto [v, n] = ParamEither(params, "query.serviceName", "query.service_name"); v) {
      q.service = *v;
    }
    if (auto [v, n] = ParamEither(params, "query.operationName", "query.operation_name"); v) {
      q.operation = *v;
    }
    if (const auto* v = Param(params, "query.attributes"); v != nullptr && !v->empty()) {
      auto parsed = ParseStringMapJson(*v);
      if (!parsed.ok()) {
        return V3Fail(400, fmt::format("malformed parameter query.attributes: {}",
                                       common::Message(parsed.status())));
      }
      q.tags = std::move(*parsed);
    }
    auto [min_v, min_name] = ParamEither(params, "query.startTimeMin", "query.start_time_min");
    auto [max_v, max_name] = ParamEither(params, "query.startTimeMax", "query.start_time_max");
    if (min_v == nullptr || max_v == nullptr || min_v->empty() || max_v->empty()) {
      return V3Fail(400, "query.startTimeMin and query.startTimeMax are required");
    }
    if (auto bad = V3Param(params, {min_name}, ParseRfc3339Nanos, &q.start_min_ns)) return *bad;
    if (auto bad = V3Param(params, {max_name}, ParseRfc3339Nanos, &q.start_max_ns)) return *bad;
    if (q.start_min_ns >= q.start_max_ns) {
      return V3Fail(400, "query.startTimeMin must be before query.startTimeMax");
    }
    if (auto bad = V3Param(params, {"query.durationMin", "query.duration_min"}, ParseDurationNanos,
                           &q.duration_min_ns)) {
      return *bad;
    }
    if (auto bad = V3Param(params, {"query.durationMax", "query.duration_max"}, ParseDurationNanos,
                           &q.duration_max_ns)) {
      return *bad;
    }
    int64_t depth = 0;
    if (auto bad = V3Param(params, {"query.searchDepth", "query.search_depth", "query.num_traces"},
                           ParseInt64, &depth)) {
      return *bad;
    }
    q.limit = SearchLimit(depth, config_.max_limit);
    bool raw = false;
    if (auto bad = V3Param(params, {"query.rawTraces", "query.raw_traces"}, ParseBool, &raw)) {
      return *bad;
    }

    auto hits = Find(q);
    if (!hits.ok()) return StorageFailure(hits.status(), V3Fail);
    bool cut = false;
    auto traces = Fetch(*hits, q, &cut);
    if (!traces.ok()) return StorageFailure(traces.status(), V3Fail);
    if (cut) SPDLOG_WARN("query: {}", TruncatedMessage(traces->size(), hits->size()));
    if (!raw) {
      for (auto& t : *traces) AdjustOtlpAsJaegerQuery(t);
    }
    if (summaries) {
      std::string out = "{\"summaries\":[";
      for (size_t i = 0; i < traces->size(); ++i) {
        if (i > 0) out += ",";
        out += RenderSummary((*traces)[i]);
      }
      return V3Json(out + "]}");
    }
    if (traces->empty()) return V3Fail(404, "No traces found");
    otlp_trace::TracesData all;
    for (auto& t : *traces) Concatenate(all, std::move(t));
    return V3Json("{\"result\":" + skua::model::RenderOtlpTracesData(all) + "}");
  }

  template <typename Fail>
  HttpResponse StorageFailure(const absl::Status& st, Fail fail) {
    if (st.code() == absl::StatusCode::kDeadlineExceeded) {
      return fail(504, fmt::format("the search took longer than query.timeout ({} ms); narrow it "
                                   "(time range, service, limit)",
                                   config_.timeout.count()));
    }
    // The cause may name files of the data directory: it goes to the log only.
    SPDLOG_WARN("query: {}", st.message());
    return fail(500, "storage error; see the server's log");
  }

  std::string TruncatedMessage(size_t returned, size_t found) const {
    return fmt::format(
        "answer cut at {} of {} traces: their spans exceed query.max_response_bytes "
        "({} bytes); narrow the search or lower its limit",
        returned, found, config_.max_response_bytes);
  }

  storage::SpanReader& store_;
  const config::QueryConfig config_;
  common::Clock& clock_;
  common::MetricsRegistry& metrics_;
};

}  // namespace

common::HttpHandler MakeQueryHttpHandler(storage::SpanReader& store,
                                         const config::QueryConfig& config, common::Clock& clock,
                                         common::MetricsRegistry& metrics) {
  auto api = std::make_shared<QueryApi>(store, config, clock, metrics);
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
