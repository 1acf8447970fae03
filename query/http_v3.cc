// Jaeger's api_v3 HTTP gateway over the query service (docs/api.md, "api_v3").

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_write.h"
#include "common/status_macros.h"
#include "model/otlp_json.h"
#include "query/http_adapters.h"
#include "query/http_common.h"
#include "query/trace_summary.h"

namespace skua::query {
namespace {

using common::HttpResponse;

HttpResponse V3Json(std::string body) { return {200, "application/json", {}, std::move(body)}; }

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
    return V3HttpApi::Fail(
        400, fmt::format("malformed parameter {}: {}", name, common::Message(r.status())));
  }
  *out = *r;
  return std::nullopt;
}

// A search's required window (query.startTimeMin/Max, either spelling) into *min_ns, *max_ns;
// Jaeger's 400 answers when missing, malformed or empty.
std::optional<HttpResponse> V3Window(const Params& params, int64_t* min_ns, int64_t* max_ns) {
  auto [min_v, min_name] = ParamEither(params, "query.startTimeMin", "query.start_time_min");
  auto [max_v, max_name] = ParamEither(params, "query.startTimeMax", "query.start_time_max");
  if (min_v == nullptr || max_v == nullptr || min_v->empty() || max_v->empty()) {
    // Jaeger v1.76's wording, which names its (snake_case) parameters; both spellings work.
    return V3HttpApi::Fail(400, "query.start_time_min and query.start_time_max are required");
  }
  if (auto bad = V3Param(params, {min_name}, ParseRfc3339Nanos, min_ns)) return bad;
  if (auto bad = V3Param(params, {max_name}, ParseRfc3339Nanos, max_ns)) return bad;
  if (*min_ns >= *max_ns) {
    return V3HttpApi::Fail(400, "query.startTimeMin must be before query.startTimeMax");
  }
  return std::nullopt;
}

// The structured filter of `query.filter`, if given, into *out; 400 when malformed, 501 when
// it asks what this backend does not serve.
std::optional<HttpResponse> V3Filter(const Params& params,
                                     std::shared_ptr<const filter::Filter>* out) {
  const auto* v = Param(params, "query.filter");
  if (v == nullptr || v->empty()) return std::nullopt;
  auto parsed = ParseFilterJson(*v);
  if (!parsed.ok()) {
    return V3HttpApi::Fail(parsed.status().code() == absl::StatusCode::kUnimplemented ? 501 : 400,
                           common::Message(parsed.status()));
  }
  *out = std::move(*parsed);
  return std::nullopt;
}

// Appends every ResourceSpans of `from` to `to`.
void Concatenate(otlp_trace::TracesData& to, otlp_trace::TracesData&& from) {
  for (auto& rs : *from.mutable_resource_spans()) *to.add_resource_spans() = std::move(rs);
}

// api_v3 TraceSummary of one trace, as JSON.
std::string RenderSummary(const otlp_trace::TracesData& td) {
  TraceSummary summary = Summarize(td);
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartObject();
  common::WriteKey(w, "traceId");
  common::WriteString(w, common::HexEncode(summary.trace_id));
  common::WriteKey(w, "rootServiceName");
  common::WriteString(w, summary.root_service);
  common::WriteKey(w, "rootOperationName");
  common::WriteString(w, summary.root_operation);
  common::WriteKey(w, "minStartTimeUnixNano");
  common::WriteString(w, std::to_string(summary.min_start_ns));
  common::WriteKey(w, "maxEndTimeUnixNano");
  common::WriteString(w, std::to_string(summary.max_end_ns));
  common::WriteKey(w, "spanCount");
  w.Int(summary.spans);
  common::WriteKey(w, "errorSpanCount");
  w.Int(summary.error_spans);
  common::WriteKey(w, "orphanSpanCount");
  w.Int(summary.orphan_spans);
  common::WriteKey(w, "services");
  w.StartArray();
  for (const auto& service : summary.services) {
    w.StartObject();
    common::WriteKey(w, "name");
    common::WriteString(w, service.name);
    common::WriteKey(w, "spanCount");
    w.Int(service.spans);
    common::WriteKey(w, "errorSpanCount");
    w.Int(service.error_spans);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace

HttpResponse V3HttpApi::Fail(int status, std::string_view msg) {
  return {
      status,
      kTextContentType,
      {},
      fmt::format("{{\"error\":{{\"httpCode\":{},\"message\":{}}}}}\n", status, JsonString(msg))};
}

HttpResponse V3HttpApi::Services() {
  return V3Json(fmt::format("{{\"services\":{}}}", JsonStringArray(service_.Services(tenant_))));
}

HttpResponse V3HttpApi::Operations(const Params& params) {
  const auto* service = Param(params, "service");
  auto [kind, kind_name] = ParamEither(params, "spanKind", "span_kind");
  auto ops = service_.Operations(tenant_, service != nullptr ? *service : "", kind ? *kind : "");
  return V3Json("{\"operations\":" + OperationsJson(ops, V3SpanKind) + "}");
}

HttpResponse V3HttpApi::GetTrace(const Params& params, std::string_view raw_id) {
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
    return Fail(400, fmt::format("malformed parameter trace_id: {}", common::Message(id.status())));
  }
  auto trace = service_.GetTrace(tenant_, *id,
                                 raw ? QueryService::Adjust::kRaw : QueryService::Adjust::kOtlp);
  if (!trace.ok()) return StorageFailure(trace.status(), service_.config(), Fail);
  if (!trace->has_value()) return Fail(404, "No traces found");
  return V3Json("{\"result\":" + skua::model::RenderOtlpTracesData(**trace) + "}");
}

HttpResponse V3HttpApi::FindTraces(const Params& params, bool summaries) {
  storage::TraceQuery q;
  q.tenant = tenant_;
  if (auto [v, n] = ParamEither(params, "query.serviceName", "query.service_name"); v) {
    q.service = *v;
  }
  if (auto [v, n] = ParamEither(params, "query.operationName", "query.operation_name"); v) {
    q.operation = *v;
  }
  if (const auto* v = Param(params, "query.attributes"); v != nullptr && !v->empty()) {
    auto parsed = ParseStringMapJson(*v);
    if (!parsed.ok()) {
      return Fail(400, fmt::format("malformed parameter query.attributes: {}",
                                   common::Message(parsed.status())));
    }
    q.tags = std::move(*parsed);
  }
  if (const auto* v = Param(params, "query.filter"); v != nullptr && !v->empty()) {
    bool legacy = !q.service.empty() || !q.operation.empty() || !q.tags.empty();
    for (const char* name :
         {"query.durationMin", "query.duration_min", "query.durationMax", "query.duration_max"}) {
      legacy = legacy || Param(params, name) != nullptr;
    }
    if (legacy) return Fail(400, kFilterExclusive);
    if (auto bad = V3Filter(params, &q.filter)) return *bad;
  }
  if (auto bad = V3Window(params, &q.start_min_ns, &q.start_max_ns)) return *bad;
  if (auto bad = V3Param(params, {"query.durationMin", "query.duration_min"}, ParseDurationNanos,
                         &q.duration_min_ns)) {
    return *bad;
  }
  if (auto bad = V3Param(params, {"query.durationMax", "query.duration_max"}, ParseDurationNanos,
                         &q.duration_max_ns)) {
    return *bad;
  }
  // Skua's extension: the whole trace's duration (storage::TraceQuery).
  if (auto bad = V3Param(params, {"query.traceDurationMin", "query.trace_duration_min"},
                         ParseDurationNanos, &q.trace_duration_min_ns)) {
    return *bad;
  }
  if (auto bad = V3Param(params, {"query.traceDurationMax", "query.trace_duration_max"},
                         ParseDurationNanos, &q.trace_duration_max_ns)) {
    return *bad;
  }
  if (q.trace_duration_max_ns != 0 && q.trace_duration_max_ns < q.trace_duration_min_ns) {
    return Fail(400, "query.traceDurationMin must not exceed query.traceDurationMax");
  }
  int64_t depth = 0;
  if (auto bad = V3Param(params, {"query.searchDepth", "query.search_depth", "query.num_traces"},
                         ParseInt64, &depth)) {
    return *bad;
  }
  q.limit = service_.SearchLimit(depth);
  // Pagination (Jaeger RFC 0014): trace summaries only; exclusive with the search depth.
  QueryService::Paging paging;
  auto [size_v, size_name] =
      ParamEither(params, "query.pagination.pageSize", "query.pagination.page_size");
  auto [token_v, token_name] =
      ParamEither(params, "query.pagination.pageToken", "query.pagination.page_token");
  if (size_v != nullptr || token_v != nullptr) {
    if (!summaries) {
      return Fail(400,
                  "query.pagination: /api/v3/traces is not paginated (Jaeger RFC 0014); page "
                  "with /api/v3/trace-summaries and read the traces by ID");
    }
    if (depth != 0) {
      return Fail(400,
                  "query.pagination and query.search_depth cannot be combined: "
                  "query.pagination.page_size bounds the page");
    }
    int64_t size = 0;
    if (auto bad = V3Param(params, {size_name}, ParseInt64, &size)) return *bad;
    if (size <= 0 || size > UINT32_MAX) {
      return Fail(400, "query.pagination.page_size must be a positive number of traces");
    }
    paging.size = static_cast<uint32_t>(size);
    auto st = service_.ToPage(q, paging.size, token_v != nullptr ? *token_v : "");
    if (!st.ok()) return Fail(400, common::Message(st));
  }
  bool raw = false;
  if (auto bad = V3Param(params, {"query.rawTraces", "query.raw_traces"}, ParseBool, &raw)) {
    return *bad;
  }

  auto found =
      service_.FindTraces(q, raw ? QueryService::Adjust::kRaw : QueryService::Adjust::kOtlp,
                          paging.size > 0 ? &paging : nullptr);
  if (!found.ok()) return StorageFailure(found.status(), service_.config(), Fail);
  if (found->cut) SPDLOG_WARN("query: {}", service_.CutMessage(*found));
  auto& traces = found->traces;
  if (summaries) {
    std::string out = "{\"summaries\":[";
    for (size_t i = 0; i < traces.size(); ++i) {
      if (i > 0) out += ",";
      out += RenderSummary(traces[i]);
    }
    out += "]";
    // proto3 JSON leaves an empty token out: no token, no next page.
    if (!paging.next_token.empty()) out += ",\"nextPageToken\":" + JsonString(paging.next_token);
    return V3Json(out + "}");
  }
  if (traces.empty()) return Fail(404, "No traces found");
  otlp_trace::TracesData all;
  for (auto& t : traces) Concatenate(all, std::move(t));
  return V3Json("{\"result\":" + skua::model::RenderOtlpTracesData(all) + "}");
}

HttpResponse V3HttpApi::FindSpans(const Params& params) {
  // The request is a time range, a filter and a page (RFC 0016 §4.3): no legacy predicates.
  for (const char* name :
       {"query.serviceName", "query.service_name", "query.operationName", "query.operation_name",
        "query.attributes", "query.durationMin", "query.duration_min", "query.durationMax",
        "query.duration_max", "query.searchDepth", "query.search_depth", "query.num_traces"}) {
    if (Param(params, name) != nullptr) {
      return Fail(400, fmt::format("{}: a span search takes only query.filter, the time range "
                                   "and query.pagination (Jaeger RFC 0016)",
                                   name));
    }
  }
  int64_t min_ns = 0, max_ns = 0;
  if (auto bad = V3Window(params, &min_ns, &max_ns)) return *bad;
  std::shared_ptr<const filter::Filter> flt;
  if (auto bad = V3Filter(params, &flt)) return *bad;
  int64_t size = kDefaultSearchLimit;
  if (auto bad = V3Param(params, {"query.pagination.pageSize", "query.pagination.page_size"},
                         ParseInt64, &size)) {
    return *bad;
  }
  if (size <= 0 || size > UINT32_MAX) {
    return Fail(400, "query.pagination.page_size must be a positive number of spans");
  }
  auto [token, token_name] =
      ParamEither(params, "query.pagination.pageToken", "query.pagination.page_token");
  auto page = service_.FindSpans(tenant_, min_ns, max_ns, std::move(flt),
                                 static_cast<uint32_t>(size), token ? *token : "");
  if (!page.ok()) {
    if (page.status().code() == absl::StatusCode::kInvalidArgument) {
      return Fail(400, common::Message(page.status()));
    }
    return StorageFailure(page.status(), service_.config(), Fail);
  }
  // As the gateway renders one FindSpansResponse message: {"result": {spans, nextPageToken}}.
  std::string out = "{\"result\":{\"spans\":" + skua::model::RenderOtlpTracesData(page->spans);
  if (!page->next_token.empty()) out += ",\"nextPageToken\":" + JsonString(page->next_token);
  return V3Json(out + "}}");
}

}  // namespace skua::query
