// Encoding OTLP/JSON as Jaeger's api_v3 renders it.

#include <cmath>

#include "common/ids.h"
#include "common/json_write.h"
#include "model/otlp_json.h"

namespace skua::model {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;

void WriteAttributes(common::JsonWriter& w,
                     const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs);

void WriteUint64String(common::JsonWriter& w, std::string_view key, uint64_t v) {
  common::WriteKey(w, key);
  common::WriteString(w, std::to_string(v));
}

void WriteNonZeroUint(common::JsonWriter& w, std::string_view key, uint32_t v) {
  if (v == 0) return;
  common::WriteKey(w, key);
  w.Uint(v);
}

void WriteNonEmpty(common::JsonWriter& w, std::string_view key, const std::string& v) {
  if (v.empty()) return;
  common::WriteKey(w, key);
  common::WriteString(w, v);
}

void WriteNonEmptyHex(common::JsonWriter& w, std::string_view key, const std::string& raw) {
  if (raw.empty()) return;
  common::WriteKey(w, key);
  common::WriteString(w, common::HexEncode(raw));
}

void WriteAnyValue(common::JsonWriter& w, const otlp_common::AnyValue& v) {
  w.StartObject();
  switch (v.value_case()) {
    case otlp_common::AnyValue::kStringValue:
      common::WriteKey(w, "stringValue");
      common::WriteString(w, v.string_value());
      break;
    case otlp_common::AnyValue::kBoolValue:
      common::WriteKey(w, "boolValue");
      w.Bool(v.bool_value());
      break;
    case otlp_common::AnyValue::kIntValue:
      common::WriteKey(w, "intValue");
      common::WriteString(w, std::to_string(v.int_value()));
      break;
    case otlp_common::AnyValue::kDoubleValue:
      common::WriteKey(w, "doubleValue");
      if (std::isfinite(v.double_value())) {
        w.Double(v.double_value());
      } else {
        // Proto JSON spells these as strings.
        common::WriteString(w, std::isnan(v.double_value())
                                   ? "NaN"
                                   : (v.double_value() > 0 ? "Infinity" : "-Infinity"));
      }
      break;
    case otlp_common::AnyValue::kBytesValue:
      common::WriteKey(w, "bytesValue");
      common::WriteString(w, common::Base64Encode(v.bytes_value()));
      break;
    case otlp_common::AnyValue::kArrayValue:
      common::WriteKey(w, "arrayValue");
      w.StartObject();
      common::WriteKey(w, "values");
      w.StartArray();
      for (const auto& e : v.array_value().values()) WriteAnyValue(w, e);
      w.EndArray();
      w.EndObject();
      break;
    case otlp_common::AnyValue::kKvlistValue:
      common::WriteKey(w, "kvlistValue");
      w.StartObject();
      common::WriteKey(w, "values");
      WriteAttributes(w, v.kvlist_value().values());
      w.EndObject();
      break;
    default:
      break;
  }
  w.EndObject();
}

void WriteAttributes(common::JsonWriter& w,
                     const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs) {
  w.StartArray();
  for (const auto& kv : attrs) {
    w.StartObject();
    common::WriteKey(w, "key");
    common::WriteString(w, kv.key());
    common::WriteKey(w, "value");
    WriteAnyValue(w, kv.value());
    w.EndObject();
  }
  w.EndArray();
}

template <typename Msg>
void WriteAttributesIfAny(common::JsonWriter& w, const Msg& m) {
  if (m.attributes_size() == 0) return;
  common::WriteKey(w, "attributes");
  WriteAttributes(w, m.attributes());
}

void WriteSpan(common::JsonWriter& w, const otlp_trace::Span& s) {
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
    common::WriteKey(w, "events");
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
    common::WriteKey(w, "links");
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
  common::WriteKey(w, "status");
  w.StartObject();
  WriteNonEmpty(w, "message", s.status().message());
  WriteNonZeroUint(w, "code", static_cast<uint32_t>(s.status().code()));
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string RenderOtlpTracesData(const otlp_trace::TracesData& data) {
  rapidjson::StringBuffer buf;
  common::JsonWriter w(buf);
  w.StartObject();
  common::WriteKey(w, "resourceSpans");
  w.StartArray();
  for (const auto& rs : data.resource_spans()) {
    w.StartObject();
    common::WriteKey(w, "resource");
    w.StartObject();
    WriteAttributesIfAny(w, rs.resource());
    WriteNonZeroUint(w, "droppedAttributesCount", rs.resource().dropped_attributes_count());
    w.EndObject();
    common::WriteKey(w, "scopeSpans");
    w.StartArray();
    for (const auto& ss : rs.scope_spans()) {
      w.StartObject();
      common::WriteKey(w, "scope");
      w.StartObject();
      WriteNonEmpty(w, "name", ss.scope().name());
      WriteNonEmpty(w, "version", ss.scope().version());
      WriteAttributesIfAny(w, ss.scope());
      WriteNonZeroUint(w, "droppedAttributesCount", ss.scope().dropped_attributes_count());
      w.EndObject();
      common::WriteKey(w, "spans");
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

}  // namespace skua::model
