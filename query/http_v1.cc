// Jaeger's v1 JSON API over the query service (docs/api.md, "v1").

#include <fmt/format.h>

#include <map>
#include <optional>

#include "common/json_write.h"
#include "common/status_macros.h"
#include "query/http_adapters.h"
#include "query/http_common.h"
#include "query/jaeger_json.h"

namespace skua::query {
namespace {

using common::HttpResponse;

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

}  // namespace

// Jaeger v1 error: Go's http.Error, so text/plain with a JSON body and a newline.
HttpResponse V1HttpApi::Fail(int status, std::string_view msg) {
  return {status,
          kTextContentType,
          {},
          fmt::format("{{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":{}}}\n",
                      V1Errors({{status, std::string(msg), ""}}))};
}

namespace {

HttpResponse V1Data(const std::string& data_json, int total, bool pretty,
                    const std::vector<V1Error>& errors = {}) {
  std::string body =
      fmt::format("{{\"data\":{},\"total\":{},\"limit\":0,\"offset\":0,\"errors\":{}}}", data_json,
                  total, V1Errors(errors));
  return {200, "application/json", {}, pretty ? common::PrettyPrint(body) : std::move(body)};
}

bool Pretty(const Params& params) {
  const auto* pp = Param(params, "prettyPrint");
  return pp != nullptr && !pp->empty() && *pp != "false";
}

// Parses the optional v1 parameter `name` with `parse` into *out (unchanged when absent).
// Returns Jaeger's 400 answer when it is malformed.
template <typename Parse, typename T>
std::optional<HttpResponse> V1Param(const Params& params, const char* name, Parse parse, T* out) {
  const auto* v = Param(params, name);
  if (v == nullptr || v->empty()) return std::nullopt;
  auto r = parse(*v);
  if (!r.ok()) {
    return V1HttpApi::Fail(
        400, fmt::format("unable to parse param '{}': {}", name, common::Message(r.status())));
  }
  *out = *r;
  return std::nullopt;
}

// Validates the start/end/raw parameters shared by trace lookups; `raw` gets the last.
std::optional<HttpResponse> CheckHints(const Params& params, bool& raw) {
  int64_t hint = 0;
  if (auto bad = V1Param(params, "start", ParseInt64, &hint)) return bad;
  if (auto bad = V1Param(params, "end", ParseInt64, &hint)) return bad;
  return V1Param(params, "raw", ParseBool, &raw);
}

}  // namespace

HttpResponse V1HttpApi::Services(const Params& params) {
  auto services = service_.Services(tenant_);
  return V1Data(JsonStringArray(services), static_cast<int>(services.size()), Pretty(params));
}

HttpResponse V1HttpApi::ServiceOperations(const Params& params, std::string_view raw_service) {
  auto service = common::PercentDecode(raw_service, true);  // Go's url.QueryUnescape
  if (!service) return Fail(400, fmt::format("invalid URL escape in '{}'", raw_service));
  std::vector<std::string> names;
  for (const auto& op : service_.Operations(tenant_, *service, "")) {
    if (names.empty() || names.back() != op.name) names.push_back(op.name);
  }
  // Jaeger (v1.76) answers `null`, not [], when the service has no operations.
  return V1Data(names.empty() ? "null" : JsonStringArray(names), static_cast<int>(names.size()),
                Pretty(params));
}

HttpResponse V1HttpApi::Operations(const Params& params) {
  const auto* service = Param(params, "service");
  if (service == nullptr || service->empty()) {
    return Fail(400, "parameter 'service' is required");
  }
  const auto* kind = Param(params, "spanKind");
  auto ops = service_.Operations(tenant_, *service, kind ? *kind : "");
  auto as_stored = [](const storage::Operation& op) { return std::string_view(op.span_kind); };
  return V1Data(OperationsJson(ops, as_stored), static_cast<int>(ops.size()), Pretty(params));
}

HttpResponse V1HttpApi::GetTrace(const Params& params, std::string_view raw_id) {
  bool raw = false;
  if (auto bad = CheckHints(params, raw)) return *bad;
  auto id = PathTraceId(raw_id);
  if (!id.ok()) {
    return Fail(400, std::string(common::Message(id.status())));
  }
  // start/end are storage hints in Jaeger; a lookup by ID needs none here, so they are only
  // validated (and Grafana's millisecond hints are thus harmless).
  auto trace = service_.GetTrace(tenant_, *id, QueryService::Adjust::kRaw);
  if (!trace.ok()) return StorageFailure(trace.status(), service_.config(), Fail);
  if (!trace->has_value()) return Fail(404, "trace not found");
  return V1Data("[" + RenderJaegerTrace(**trace, !raw) + "]", 0, Pretty(params));
}

HttpResponse V1HttpApi::FindTraces(const Params& params) {
  storage::TraceQuery q;
  q.tenant = tenant_;
  if (const auto* v = Param(params, "service")) q.service = *v;
  if (const auto* v = Param(params, "operation")) q.operation = *v;
  std::optional<int64_t> start_ns, end_ns;
  if (auto bad = V1Param(params, "start", ParseUnixMicrosAsNanos, &start_ns)) return *bad;
  if (auto bad = V1Param(params, "end", ParseUnixMicrosAsNanos, &end_ns)) return *bad;
  auto window = service_.SearchWindow(start_ns, end_ns);
  q.start_min_ns = window.start_ns;
  q.start_max_ns = window.end_ns;
  q.limit = service_.SearchLimit(0);
  if (const auto* v = Param(params, "limit"); v != nullptr && !v->empty()) {
    auto r = ParseInt64(*v);
    if (!r.ok()) return Fail(400, common::Message(r.status()));
    q.limit = service_.SearchLimit(*r);
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
      return Fail(400,
                  fmt::format("malformed 'tag' parameter, expecting key:value, received: {}", t));
    }
    put_tag(t.substr(0, colon), t.substr(colon + 1));
  }
  for (const auto& js : ParamAll(params, "tags")) {
    auto parsed = ParseStringMapJson(js);
    if (!parsed.ok()) {
      return Fail(400, fmt::format("malformed 'tags' parameter, cannot unmarshal JSON: {}",
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
    return Fail(400, "'maxDuration' should be greater than 'minDuration'");
  }
  // Skua's extension: the whole trace's duration (storage::TraceQuery).
  if (auto bad =
          V1Param(params, "minTraceDuration", ParseDurationNanos, &q.trace_duration_min_ns)) {
    return *bad;
  }
  if (auto bad =
          V1Param(params, "maxTraceDuration", ParseDurationNanos, &q.trace_duration_max_ns)) {
    return *bad;
  }
  if (q.trace_duration_max_ns != 0 && q.trace_duration_max_ns < q.trace_duration_min_ns) {
    return Fail(400, "'maxTraceDuration' should be greater than 'minTraceDuration'");
  }
  bool raw = false;  // true: traces without Jaeger's adjusters
  if (auto bad = V1Param(params, "raw", ParseBool, &raw)) return *bad;

  auto trace_ids = ParamAll(params, "traceID");
  if (!trace_ids.empty()) return GetTraces(params, trace_ids, raw);

  auto found = service_.FindTraces(q, QueryService::Adjust::kRaw);
  if (!found.ok()) return StorageFailure(found.status(), service_.config(), Fail);
  std::string data = "[";
  for (const auto& t : found->traces) {
    if (data.size() > 1) data += ",";
    data += RenderJaegerTrace(t, !raw);
  }
  data += "]";
  std::vector<V1Error> errors;
  if (found->cut) errors.push_back({0, service_.CutMessage(*found), ""});
  return V1Data(data, 0, Pretty(params), errors);
}

// `traceID=` multi-get: other filters are ignored; missing IDs are reported in `errors`.
HttpResponse V1HttpApi::GetTraces(const Params& params, const std::vector<std::string>& raw_ids,
                                  bool raw) {
  std::vector<common::TraceId> ids;
  for (const auto& raw : raw_ids) {
    auto id = common::ParseTraceIdHex(raw);
    if (!id) {
      return Fail(400, fmt::format("cannot parse traceID param: {}", common::TraceIdHexError(raw)));
    }
    ids.push_back(*id);
  }
  std::string data = "[";
  std::vector<V1Error> errors;
  for (const auto& id : ids) {
    auto t = service_.GetTrace(tenant_, id, QueryService::Adjust::kRaw);
    if (!t.ok()) return StorageFailure(t.status(), service_.config(), Fail);
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

HttpResponse V1HttpApi::Dependencies(const Params& params) {
  std::optional<int64_t> end_ns, lookback_ns;
  if (auto bad = V1Param(params, "endTs", ParseUnixMillisAsNanos, &end_ns)) return *bad;
  if (auto bad = V1Param(params, "lookback", ParseMillisAsNanos, &lookback_ns)) return *bad;
  const auto* service = Param(params, "service");
  auto links = service_.Dependencies(tenant_, service_.DependencyWindow(end_ns, lookback_ns),
                                     service != nullptr ? *service : "");
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartArray();
  for (const auto& l : links) {
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

}  // namespace skua::query
