#include "query/jaeger_json.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "common/ids.h"
#include "query/json_util.h"
#include "storage/span_terms.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;

constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;
constexpr char kWarningsAttribute[] = "@jaeger@warnings";

void WriteDouble(JsonWriter& w, double d) {
  if (std::isfinite(d)) {
    w.Double(d);
  } else {
    // JSON has no NaN/Inf; Jaeger (Go) would fail the whole response. A string keeps it readable.
    WriteString(w, std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf"));
  }
}

// A Jaeger tag: {"key","type","value"}.
void WriteTag(JsonWriter& w, std::string_view key, const otlp_common::AnyValue& v) {
  w.StartObject();
  WriteKey(w, "key");
  WriteString(w, key);
  WriteKey(w, "type");
  switch (v.value_case()) {
    case otlp_common::AnyValue::kBoolValue:
      WriteString(w, "bool");
      WriteKey(w, "value");
      w.Bool(v.bool_value());
      break;
    case otlp_common::AnyValue::kIntValue:
      WriteString(w, "int64");
      WriteKey(w, "value");
      if (v.int_value() > kMaxSafeInteger || v.int_value() < -kMaxSafeInteger) {
        WriteString(w, std::to_string(v.int_value()));
      } else {
        w.Int64(v.int_value());
      }
      break;
    case otlp_common::AnyValue::kDoubleValue:
      WriteString(w, "float64");
      WriteKey(w, "value");
      WriteDouble(w, v.double_value());
      break;
    case otlp_common::AnyValue::kBytesValue:
      WriteString(w, "binary");
      WriteKey(w, "value");
      WriteString(w, Base64Encode(v.bytes_value()));
      break;
    default:
      WriteString(w, "string");
      WriteKey(w, "value");
      WriteString(w, storage::ValueAsString(v));
      break;
  }
  w.EndObject();
}

void WriteStringTag(JsonWriter& w, std::string_view key, std::string_view value) {
  otlp_common::AnyValue v;
  v.set_string_value(std::string(value));
  WriteTag(w, key, v);
}

// Attributes sorted by key (Jaeger's SortCollections adjuster; stable for repeated keys).
std::vector<const otlp_common::KeyValue*> SortedAttributes(
    const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs) {
  std::vector<const otlp_common::KeyValue*> out;
  out.reserve(attrs.size());
  for (const auto& kv : attrs) out.push_back(&kv);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto* a, const auto* b) { return a->key() < b->key(); });
  return out;
}

std::string JaegerTraceId(std::string_view raw) {
  auto id = common::TraceId::FromBytes(raw);
  return id ? common::FormatTraceIdJaeger(*id) : common::HexEncode(raw);
}

void WriteReference(JsonWriter& w, std::string_view type, const std::string& trace_id,
                    std::string_view span_id) {
  w.StartObject();
  WriteKey(w, "refType");
  WriteString(w, type);
  WriteKey(w, "traceID");
  WriteString(w, trace_id);
  WriteKey(w, "spanID");
  WriteString(w, common::HexEncode(span_id));
  w.EndObject();
}

bool IsZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

void WriteSpan(JsonWriter& w, const otlp_common::InstrumentationScope& scope,
               const otlp_trace::Span& span, std::string_view process_id) {
  std::string trace_id = JaegerTraceId(span.trace_id());
  w.StartObject();
  WriteKey(w, "traceID");
  WriteString(w, trace_id);
  WriteKey(w, "spanID");
  WriteString(w, common::HexEncode(span.span_id()));
  WriteKey(w, "operationName");
  WriteString(w, span.name().empty() ? "empty-span-name" : span.name());

  // References: the parent first; links after it. A link to the parent only sets its type.
  WriteKey(w, "references");
  w.StartArray();
  bool has_parent = span.parent_span_id().size() == 8 && !IsZero(span.parent_span_id());
  std::string parent_type = "CHILD_OF";
  auto link_type = [](const otlp_trace::Span::Link& l) {
    for (const auto& kv : l.attributes()) {
      if (kv.key() == "opentracing.ref_type" && kv.value().string_value() == "child_of") {
        return "CHILD_OF";
      }
    }
    return "FOLLOWS_FROM";
  };
  if (has_parent) {
    for (const auto& l : span.links()) {
      if (l.trace_id() == span.trace_id() && l.span_id() == span.parent_span_id()) {
        parent_type = link_type(l);
      }
    }
    WriteReference(w, parent_type, trace_id, span.parent_span_id());
  }
  for (const auto& l : span.links()) {
    if (has_parent && l.trace_id() == span.trace_id() && l.span_id() == span.parent_span_id()) {
      continue;
    }
    WriteReference(w, link_type(l), JaegerTraceId(l.trace_id()), l.span_id());
  }
  w.EndArray();

  uint64_t start = span.start_time_unix_nano();
  uint64_t end = span.end_time_unix_nano();
  WriteKey(w, "startTime");
  w.Uint64(start / 1000);
  WriteKey(w, "duration");
  w.Uint64(end > start ? (end - start) / 1000 : 0);

  std::optional<std::vector<std::string>> warnings;
  WriteKey(w, "tags");
  w.StartArray();
  if (!scope.name().empty()) WriteStringTag(w, "otel.scope.name", scope.name());
  if (!scope.version().empty()) WriteStringTag(w, "otel.scope.version", scope.version());
  for (const auto* kv : SortedAttributes(span.attributes())) {
    if (kv->key() == kWarningsAttribute &&
        kv->value().value_case() == otlp_common::AnyValue::kArrayValue) {
      warnings.emplace();
      for (const auto& v : kv->value().array_value().values()) {
        warnings->push_back(v.string_value());
      }
      continue;
    }
    WriteTag(w, kv->key(), kv->value());
  }
  if (auto kind = storage::SpanKindName(span.kind()); !kind.empty()) {
    WriteStringTag(w, "span.kind", kind);
  }
  if (span.status().code() == otlp_trace::Status::STATUS_CODE_ERROR) {
    WriteStringTag(w, "otel.status_code", "ERROR");
    otlp_common::AnyValue t;
    t.set_bool_value(true);
    WriteTag(w, "error", t);
  } else if (span.status().code() == otlp_trace::Status::STATUS_CODE_OK) {
    WriteStringTag(w, "otel.status_code", "OK");
  }
  if (!span.status().message().empty()) {
    WriteStringTag(w, "otel.status_description", span.status().message());
  }
  if (!span.trace_state().empty()) WriteStringTag(w, "w3c.tracestate", span.trace_state());
  w.EndArray();

  // Events become logs, sorted by name (Jaeger's SortCollections adjuster).
  std::vector<const otlp_trace::Span::Event*> events;
  for (const auto& e : span.events()) events.push_back(&e);
  std::stable_sort(events.begin(), events.end(),
                   [](const auto* a, const auto* b) { return a->name() < b->name(); });
  WriteKey(w, "logs");
  w.StartArray();
  for (const auto* e : events) {
    w.StartObject();
    WriteKey(w, "timestamp");
    w.Uint64(e->time_unix_nano() / 1000);
    WriteKey(w, "fields");
    w.StartArray();
    bool has_event_attr = std::any_of(e->attributes().begin(), e->attributes().end(),
                                      [](const auto& kv) { return kv.key() == "event"; });
    if (!e->name().empty() && !has_event_attr) WriteStringTag(w, "event", e->name());
    for (const auto* kv : SortedAttributes(e->attributes())) WriteTag(w, kv->key(), kv->value());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();

  WriteKey(w, "processID");
  WriteString(w, process_id);
  WriteKey(w, "warnings");
  if (warnings) {
    w.StartArray();
    for (const auto& s : *warnings) WriteString(w, s);
    w.EndArray();
  } else {
    w.Null();
  }
  w.EndObject();
}

}  // namespace

std::string RenderJaegerTrace(const otlp_trace::TracesData& trace) {
  // Processes: identical (service, tags) share one key, numbered by first appearance.
  std::vector<std::pair<std::string, std::string>> processes;  // (id, rendered JSON)
  std::map<std::string, std::string> process_ids;              // rendered JSON -> id
  std::vector<std::string> resource_process(trace.resource_spans_size());
  for (int i = 0; i < trace.resource_spans_size(); ++i) {
    const auto& res = trace.resource_spans(i).resource();
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    WriteKey(w, "serviceName");
    WriteString(w, storage::ServiceNameOf(res));
    WriteKey(w, "tags");
    w.StartArray();
    for (const auto* kv : SortedAttributes(res.attributes())) {
      if (kv->key() == "service.name") continue;
      WriteTag(w, kv->key(), kv->value());
    }
    w.EndArray();
    w.EndObject();
    std::string json = buf.GetString();
    auto [it, inserted] = process_ids.try_emplace(json, "p" + std::to_string(processes.size() + 1));
    if (inserted) processes.emplace_back(it->second, json);
    resource_process[i] = it->second;
  }

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "traceID");
  std::string first_trace_id;
  for (const auto& rs : trace.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      if (first_trace_id.empty() && ss.spans_size() > 0) {
        first_trace_id = JaegerTraceId(ss.spans(0).trace_id());
      }
    }
  }
  WriteString(w, first_trace_id);
  WriteKey(w, "spans");
  w.StartArray();
  for (int i = 0; i < trace.resource_spans_size(); ++i) {
    for (const auto& ss : trace.resource_spans(i).scope_spans()) {
      for (const auto& span : ss.spans()) WriteSpan(w, ss.scope(), span, resource_process[i]);
    }
  }
  w.EndArray();
  WriteKey(w, "processes");
  w.StartObject();
  for (const auto& [id, json] : processes) {
    WriteKey(w, id);
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  WriteKey(w, "warnings");
  w.Null();
  w.EndObject();
  return buf.GetString();
}

}  // namespace skua::query
