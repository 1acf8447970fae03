#include "query/otlp_json.h"

#include <cmath>

#include "common/ids.h"
#include "query/json_util.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;

void WriteAttributes(JsonWriter& w,
                     const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs);

void WriteUint64String(JsonWriter& w, std::string_view key, uint64_t v) {
  WriteKey(w, key);
  WriteString(w, std::to_string(v));
}

void WriteNonZeroUint(JsonWriter& w, std::string_view key, uint32_t v) {
  if (v == 0) return;
  WriteKey(w, key);
  w.Uint(v);
}

void WriteNonEmpty(JsonWriter& w, std::string_view key, const std::string& v) {
  if (v.empty()) return;
  WriteKey(w, key);
  WriteString(w, v);
}

void WriteNonEmptyHex(JsonWriter& w, std::string_view key, const std::string& raw) {
  if (raw.empty()) return;
  WriteKey(w, key);
  WriteString(w, common::HexEncode(raw));
}

void WriteAnyValue(JsonWriter& w, const otlp_common::AnyValue& v) {
  w.StartObject();
  switch (v.value_case()) {
    case otlp_common::AnyValue::kStringValue:
      WriteKey(w, "stringValue");
      WriteString(w, v.string_value());
      break;
    case otlp_common::AnyValue::kBoolValue:
      WriteKey(w, "boolValue");
      w.Bool(v.bool_value());
      break;
    case otlp_common::AnyValue::kIntValue:
      WriteKey(w, "intValue");
      WriteString(w, std::to_string(v.int_value()));
      break;
    case otlp_common::AnyValue::kDoubleValue:
      WriteKey(w, "doubleValue");
      if (std::isfinite(v.double_value())) {
        w.Double(v.double_value());
      } else {
        // Proto JSON spells these as strings.
        WriteString(w, std::isnan(v.double_value())
                           ? "NaN"
                           : (v.double_value() > 0 ? "Infinity" : "-Infinity"));
      }
      break;
    case otlp_common::AnyValue::kBytesValue:
      WriteKey(w, "bytesValue");
      WriteString(w, Base64Encode(v.bytes_value()));
      break;
    case otlp_common::AnyValue::kArrayValue:
      WriteKey(w, "arrayValue");
      w.StartObject();
      WriteKey(w, "values");
      w.StartArray();
      for (const auto& e : v.array_value().values()) WriteAnyValue(w, e);
      w.EndArray();
      w.EndObject();
      break;
    case otlp_common::AnyValue::kKvlistValue:
      WriteKey(w, "kvlistValue");
      w.StartObject();
      WriteKey(w, "values");
      WriteAttributes(w, v.kvlist_value().values());
      w.EndObject();
      break;
    default:
      break;
  }
  w.EndObject();
}

void WriteAttributes(JsonWriter& w,
                     const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs) {
  w.StartArray();
  for (const auto& kv : attrs) {
    w.StartObject();
    WriteKey(w, "key");
    WriteString(w, kv.key());
    WriteKey(w, "value");
    WriteAnyValue(w, kv.value());
    w.EndObject();
  }
  w.EndArray();
}

template <typename Msg>
void WriteAttributesIfAny(JsonWriter& w, const Msg& m) {
  if (m.attributes_size() == 0) return;
  WriteKey(w, "attributes");
  WriteAttributes(w, m.attributes());
}

void WriteSpan(JsonWriter& w, const otlp_trace::Span& s) {
  w.StartObject();
  WriteNonEmptyHex(w, "traceId", s.trace_id());
  WriteNonEmptyHex(w, "spanId", s.span_id());
  WriteNonEmpty(w, "traceState", s.trace_state());
  WriteNonEmptyHex(w, "parentSpanId", s.parent_span_id());
  WriteNonZeroUint(w, "flags", s.flags());
  WriteNonEmpty(w, "name", s.name());
  WriteNonZeroUint(w, "kind", static_cast<uint32_t>(s.kind()));
  WriteUint64String(w, "startTimeUnixNano", s.start_time_unix_nano());
  WriteUint64String(w, "endTimeUnixNano", s.end_time_unix_nano());
  WriteAttributesIfAny(w, s);
  WriteNonZeroUint(w, "droppedAttributesCount", s.dropped_attributes_count());
  if (s.events_size() > 0) {
    WriteKey(w, "events");
    w.StartArray();
    for (const auto& e : s.events()) {
      w.StartObject();
      WriteUint64String(w, "timeUnixNano", e.time_unix_nano());
      WriteNonEmpty(w, "name", e.name());
      WriteAttributesIfAny(w, e);
      WriteNonZeroUint(w, "droppedAttributesCount", e.dropped_attributes_count());
      w.EndObject();
    }
    w.EndArray();
  }
  WriteNonZeroUint(w, "droppedEventsCount", s.dropped_events_count());
  if (s.links_size() > 0) {
    WriteKey(w, "links");
    w.StartArray();
    for (const auto& l : s.links()) {
      w.StartObject();
      WriteNonEmptyHex(w, "traceId", l.trace_id());
      WriteNonEmptyHex(w, "spanId", l.span_id());
      WriteNonEmpty(w, "traceState", l.trace_state());
      WriteAttributesIfAny(w, l);
      WriteNonZeroUint(w, "droppedAttributesCount", l.dropped_attributes_count());
      WriteNonZeroUint(w, "flags", l.flags());
      w.EndObject();
    }
    w.EndArray();
  }
  WriteNonZeroUint(w, "droppedLinksCount", s.dropped_links_count());
  WriteKey(w, "status");
  w.StartObject();
  WriteNonEmpty(w, "message", s.status().message());
  WriteNonZeroUint(w, "code", static_cast<uint32_t>(s.status().code()));
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string RenderOtlpTracesData(const otlp_trace::TracesData& data) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "resourceSpans");
  w.StartArray();
  for (const auto& rs : data.resource_spans()) {
    w.StartObject();
    WriteKey(w, "resource");
    w.StartObject();
    WriteAttributesIfAny(w, rs.resource());
    WriteNonZeroUint(w, "droppedAttributesCount", rs.resource().dropped_attributes_count());
    w.EndObject();
    WriteKey(w, "scopeSpans");
    w.StartArray();
    for (const auto& ss : rs.scope_spans()) {
      w.StartObject();
      WriteKey(w, "scope");
      w.StartObject();
      WriteNonEmpty(w, "name", ss.scope().name());
      WriteNonEmpty(w, "version", ss.scope().version());
      WriteAttributesIfAny(w, ss.scope());
      WriteNonZeroUint(w, "droppedAttributesCount", ss.scope().dropped_attributes_count());
      w.EndObject();
      WriteKey(w, "spans");
      w.StartArray();
      for (const auto& s : ss.spans()) WriteSpan(w, s);
      w.EndArray();
      WriteNonEmpty(w, "schemaUrl", ss.schema_url());
      w.EndObject();
    }
    w.EndArray();
    WriteNonEmpty(w, "schemaUrl", rs.schema_url());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace skua::query
