// Decoding OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions).

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "common/ids.h"
#include "common/json_parse.h"
#include "common/status_macros.h"
#include "model/otlp_json.h"
#include "model/values.h"

namespace skua::model {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
namespace otlp_resource = ::opentelemetry::proto::resource::v1;
using rapidjson::Value;

// Deep enough for values nested kMaxValueDepth levels inside a request (four JSON
// levels per value level, about ten for the request around them).
constexpr int kMaxJsonDepth = 4 * kMaxValueDepth + 32;

// The JSON path of the value being decoded, for error messages: a chain of frames on the
// decoder's stack, formatted only when an error is reported (building it eagerly would cost
// memory quadratic in the nesting depth).
class Path {
 public:
  Path() = default;
  Path Field(std::string_view name) const { return Path(this, name, -1); }
  Path Index(size_t i) const { return Path(this, {}, static_cast<int64_t>(i)); }
  absl::Status Error(std::string_view what) const {
    std::string path = Format();
    return absl::InvalidArgumentError(fmt::format("{}: {}", path.empty() ? "request" : path, what));
  }

 private:
  Path(const Path* parent, std::string_view name, int64_t index)
      : parent_(parent), name_(name), index_(index) {}
  std::string Format() const {
    if (parent_ == nullptr) return "";
    std::string out = parent_->Format();
    if (index_ >= 0) return fmt::format("{}[{}]", out, index_);
    return out.empty() ? std::string(name_) : fmt::format("{}.{}", out, name_);
  }

  const Path* parent_ = nullptr;
  std::string_view name_;
  int64_t index_ = -1;
};

std::string_view Name(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

bool Is(std::string_view key, std::string_view camel, std::string_view snake) {
  return key == camel || key == snake;
}

const char* TypeName(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

absl::Status ExpectObject(const Value& v, const Path& p) {
  return v.IsObject() ? absl::OkStatus()
                      : p.Error(fmt::format("expected an object, got {}", TypeName(v)));
}

// Calls fn(element, path) for each element of an array (null = empty).
template <typename Fn>
absl::Status ForEach(const Value& v, const Path& p, Fn fn) {
  if (v.IsNull()) return absl::OkStatus();
  if (!v.IsArray()) return p.Error(fmt::format("expected an array, got {}", TypeName(v)));
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) SKUA_RETURN_IF_ERROR(fn(v[i], p.Index(i)));
  return absl::OkStatus();
}

absl::Status GetString(const Value& v, const Path& p, std::string* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (!v.IsString()) return p.Error(fmt::format("expected a string, got {}", TypeName(v)));
  out->assign(v.GetString(), v.GetStringLength());
  return absl::OkStatus();
}

// A 64-bit integer given as a JSON number or a decimal string.
template <typename T>
absl::Status GetInteger(const Value& v, const Path& p, T* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (v.IsString()) {
    std::string_view s = Name(v);
    T value{};
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return p.Error(fmt::format("'{}' is not a valid integer", s));
    }
    *out = value;
    return absl::OkStatus();
  }
  if (v.IsNumber()) {
    if constexpr (std::is_signed_v<T>) {
      if (v.IsInt64()) {
        if (v.GetInt64() < std::numeric_limits<T>::min() ||
            v.GetInt64() > std::numeric_limits<T>::max()) {
          return p.Error("integer out of range");
        }
        *out = static_cast<T>(v.GetInt64());
        return absl::OkStatus();
      }
    } else {
      if (v.IsUint64()) {
        if (v.GetUint64() > std::numeric_limits<T>::max()) return p.Error("integer out of range");
        *out = static_cast<T>(v.GetUint64());
        return absl::OkStatus();
      }
    }
    double d = v.GetDouble();
    if (std::trunc(d) == d && d >= static_cast<double>(std::numeric_limits<T>::min()) &&
        d <= static_cast<double>(std::numeric_limits<T>::max())) {
      *out = static_cast<T>(d);
      return absl::OkStatus();
    }
    return p.Error(fmt::format("{} is not a valid integer of this type", d));
  }
  return p.Error(fmt::format("expected an integer or a decimal string, got {}", TypeName(v)));
}

absl::Status GetDouble(const Value& v, const Path& p, double* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (v.IsNumber()) {
    *out = v.GetDouble();
    return absl::OkStatus();
  }
  if (v.IsString()) {
    std::string_view s = Name(v);
    if (s == "NaN")
      *out = std::numeric_limits<double>::quiet_NaN();
    else if (s == "Infinity")
      *out = std::numeric_limits<double>::infinity();
    else if (s == "-Infinity")
      *out = -std::numeric_limits<double>::infinity();
    else {
      double d = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
        return p.Error(fmt::format("'{}' is not a number", s));
      }
      *out = d;
    }
    return absl::OkStatus();
  }
  return p.Error(fmt::format("expected a number, got {}", TypeName(v)));
}

absl::Status GetBool(const Value& v, const Path& p, bool* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (!v.IsBool()) return p.Error(fmt::format("expected true or false, got {}", TypeName(v)));
  *out = v.GetBool();
  return absl::OkStatus();
}

// Hex ID (case-insensitive). The length is not checked here: see DecodeOtlpJson's contract.
absl::Status GetHexId(const Value& v, const Path& p, std::string* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (!v.IsString()) return p.Error(fmt::format("expected a hex string, got {}", TypeName(v)));
  auto raw = common::HexDecode(Name(v));
  if (!raw) return p.Error(fmt::format("'{}' is not an even-length hex string", Name(v)));
  *out = std::move(*raw);
  return absl::OkStatus();
}

absl::Status GetBase64(const Value& v, const Path& p, std::string* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (!v.IsString()) return p.Error(fmt::format("expected a base64 string, got {}", TypeName(v)));
  std::string_view s = Name(v);
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string result;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int d;
    if (c >= 'A' && c <= 'Z')
      d = c - 'A';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      d = c - '0' + 52;
    else if (c == '+' || c == '-')
      d = 62;
    else if (c == '/' || c == '_')
      d = 63;
    else
      return p.Error("not valid base64");
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      result.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (s.size() % 4 == 1) return p.Error("not valid base64");
  *out = std::move(result);
  return absl::OkStatus();
}

// An enum as an integer or by its proto name.
template <typename E>
absl::Status GetEnum(const Value& v, const Path& p, bool (*parse)(const std::string&, E*),
                     bool (*valid)(int), E* out) {
  if (v.IsNull()) return absl::OkStatus();
  if (v.IsString()) {
    E e;
    if (!parse(std::string(Name(v)), &e))
      return p.Error(fmt::format("unknown value '{}'", Name(v)));
    *out = e;
    return absl::OkStatus();
  }
  int32_t i = 0;
  SKUA_RETURN_IF_ERROR(GetInteger(v, p, &i));
  if (!valid(i)) return p.Error(fmt::format("unknown value {}", i));
  *out = static_cast<E>(i);
  return absl::OkStatus();
}

absl::Status DecodeKeyValue(const Value& v, const Path& p, otlp_common::KeyValue* out, int depth);

// `depth`: 1 for an attribute's value, one more per enclosing array or key-value list.
absl::Status DecodeAnyValue(const Value& v, const Path& p, otlp_common::AnyValue* out, int depth) {
  if (v.IsNull()) return absl::OkStatus();
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  if (depth > kMaxValueDepth) {
    return p.Error(fmt::format("values nested deeper than {} levels", kMaxValueDepth));
  }
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (Is(k, "stringValue", "string_value")) {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_string_value()));
    } else if (Is(k, "boolValue", "bool_value")) {
      bool b = false;
      SKUA_RETURN_IF_ERROR(GetBool(m.value, fp, &b));
      out->set_bool_value(b);
    } else if (Is(k, "intValue", "int_value")) {
      int64_t i = 0;
      SKUA_RETURN_IF_ERROR(GetInteger(m.value, fp, &i));
      out->set_int_value(i);
    } else if (Is(k, "doubleValue", "double_value")) {
      double d = 0;
      SKUA_RETURN_IF_ERROR(GetDouble(m.value, fp, &d));
      out->set_double_value(d);
    } else if (Is(k, "bytesValue", "bytes_value")) {
      SKUA_RETURN_IF_ERROR(GetBase64(m.value, fp, out->mutable_bytes_value()));
    } else if (Is(k, "arrayValue", "array_value")) {
      auto* arr = out->mutable_array_value();
      if (m.value.IsNull()) continue;
      SKUA_RETURN_IF_ERROR(ExpectObject(m.value, fp));
      if (auto it = m.value.FindMember("values"); it != m.value.MemberEnd()) {
        SKUA_RETURN_IF_ERROR(
            ForEach(it->value, fp.Field("values"), [&](const Value& e, const Path& ep) {
              return DecodeAnyValue(e, ep, arr->add_values(), depth + 1);
            }));
      }
    } else if (Is(k, "kvlistValue", "kvlist_value")) {
      auto* list = out->mutable_kvlist_value();
      if (m.value.IsNull()) continue;
      SKUA_RETURN_IF_ERROR(ExpectObject(m.value, fp));
      if (auto it = m.value.FindMember("values"); it != m.value.MemberEnd()) {
        SKUA_RETURN_IF_ERROR(
            ForEach(it->value, fp.Field("values"), [&](const Value& e, const Path& ep) {
              return DecodeKeyValue(e, ep, list->add_values(), depth + 1);
            }));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeKeyValue(const Value& v, const Path& p, otlp_common::KeyValue* out, int depth) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    if (k == "key") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, p.Field(k), out->mutable_key()));
    } else if (k == "value") {
      SKUA_RETURN_IF_ERROR(DecodeAnyValue(m.value, p.Field(k), out->mutable_value(), depth));
    }
  }
  return absl::OkStatus();
}

template <typename Msg>
absl::Status DecodeAttributes(const Value& v, const Path& p, Msg* out) {
  return ForEach(v, p, [&](const Value& e, const Path& ep) {
    return DecodeKeyValue(e, ep, out->add_attributes(), 1);
  });
}

absl::Status DecodeUint32(const Value& v, const Path& p, uint32_t* out) {
  return GetInteger(v, p, out);
}

template <typename Msg>
absl::Status DecodeDroppedAttributes(const Value& v, const Path& p, Msg* out) {
  uint32_t n = 0;
  SKUA_RETURN_IF_ERROR(DecodeUint32(v, p, &n));
  out->set_dropped_attributes_count(n);
  return absl::OkStatus();
}

absl::Status DecodeEvent(const Value& v, const Path& p, otlp_trace::Span::Event* out) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (Is(k, "timeUnixNano", "time_unix_nano")) {
      uint64_t t = 0;
      SKUA_RETURN_IF_ERROR(GetInteger(m.value, fp, &t));
      out->set_time_unix_nano(t);
    } else if (k == "name") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_name()));
    } else if (k == "attributes") {
      SKUA_RETURN_IF_ERROR(DecodeAttributes(m.value, fp, out));
    } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
      SKUA_RETURN_IF_ERROR(DecodeDroppedAttributes(m.value, fp, out));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeLink(const Value& v, const Path& p, otlp_trace::Span::Link* out) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (Is(k, "traceId", "trace_id")) {
      SKUA_RETURN_IF_ERROR(GetHexId(m.value, fp, out->mutable_trace_id()));
    } else if (Is(k, "spanId", "span_id")) {
      SKUA_RETURN_IF_ERROR(GetHexId(m.value, fp, out->mutable_span_id()));
    } else if (Is(k, "traceState", "trace_state")) {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_trace_state()));
    } else if (k == "attributes") {
      SKUA_RETURN_IF_ERROR(DecodeAttributes(m.value, fp, out));
    } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
      SKUA_RETURN_IF_ERROR(DecodeDroppedAttributes(m.value, fp, out));
    } else if (k == "flags") {
      uint32_t n = 0;
      SKUA_RETURN_IF_ERROR(DecodeUint32(m.value, fp, &n));
      out->set_flags(n);
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeStatus(const Value& v, const Path& p, otlp_trace::Status* out) {
  if (v.IsNull()) return absl::OkStatus();
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    if (k == "message") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, p.Field(k), out->mutable_message()));
    } else if (k == "code") {
      otlp_trace::Status::StatusCode c = otlp_trace::Status::STATUS_CODE_UNSET;
      SKUA_RETURN_IF_ERROR(GetEnum(m.value, p.Field(k), &otlp_trace::Status::StatusCode_Parse,
                                   &otlp_trace::Status::StatusCode_IsValid, &c));
      out->set_code(c);
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeSpan(const Value& v, const Path& p, otlp_trace::Span* out) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (Is(k, "traceId", "trace_id")) {
      SKUA_RETURN_IF_ERROR(GetHexId(m.value, fp, out->mutable_trace_id()));
    } else if (Is(k, "spanId", "span_id")) {
      SKUA_RETURN_IF_ERROR(GetHexId(m.value, fp, out->mutable_span_id()));
    } else if (Is(k, "parentSpanId", "parent_span_id")) {
      SKUA_RETURN_IF_ERROR(GetHexId(m.value, fp, out->mutable_parent_span_id()));
    } else if (Is(k, "traceState", "trace_state")) {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_trace_state()));
    } else if (k == "flags") {
      uint32_t n = 0;
      SKUA_RETURN_IF_ERROR(DecodeUint32(m.value, fp, &n));
      out->set_flags(n);
    } else if (k == "name") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_name()));
    } else if (k == "kind") {
      otlp_trace::Span::SpanKind kind = otlp_trace::Span::SPAN_KIND_UNSPECIFIED;
      SKUA_RETURN_IF_ERROR(GetEnum(m.value, fp, &otlp_trace::Span::SpanKind_Parse,
                                   &otlp_trace::Span::SpanKind_IsValid, &kind));
      out->set_kind(kind);
    } else if (Is(k, "startTimeUnixNano", "start_time_unix_nano")) {
      uint64_t t = 0;
      SKUA_RETURN_IF_ERROR(GetInteger(m.value, fp, &t));
      out->set_start_time_unix_nano(t);
    } else if (Is(k, "endTimeUnixNano", "end_time_unix_nano")) {
      uint64_t t = 0;
      SKUA_RETURN_IF_ERROR(GetInteger(m.value, fp, &t));
      out->set_end_time_unix_nano(t);
    } else if (k == "attributes") {
      SKUA_RETURN_IF_ERROR(DecodeAttributes(m.value, fp, out));
    } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
      SKUA_RETURN_IF_ERROR(DecodeDroppedAttributes(m.value, fp, out));
    } else if (k == "events") {
      SKUA_RETURN_IF_ERROR(ForEach(m.value, fp, [&](const Value& e, const Path& ep) {
        return DecodeEvent(e, ep, out->add_events());
      }));
    } else if (Is(k, "droppedEventsCount", "dropped_events_count")) {
      uint32_t n = 0;
      SKUA_RETURN_IF_ERROR(DecodeUint32(m.value, fp, &n));
      out->set_dropped_events_count(n);
    } else if (k == "links") {
      SKUA_RETURN_IF_ERROR(ForEach(m.value, fp, [&](const Value& e, const Path& ep) {
        return DecodeLink(e, ep, out->add_links());
      }));
    } else if (Is(k, "droppedLinksCount", "dropped_links_count")) {
      uint32_t n = 0;
      SKUA_RETURN_IF_ERROR(DecodeUint32(m.value, fp, &n));
      out->set_dropped_links_count(n);
    } else if (k == "status") {
      SKUA_RETURN_IF_ERROR(DecodeStatus(m.value, fp, out->mutable_status()));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeScope(const Value& v, const Path& p, otlp_common::InstrumentationScope* out) {
  if (v.IsNull()) return absl::OkStatus();
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (k == "name") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_name()));
    } else if (k == "version") {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_version()));
    } else if (k == "attributes") {
      SKUA_RETURN_IF_ERROR(DecodeAttributes(m.value, fp, out));
    } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
      SKUA_RETURN_IF_ERROR(DecodeDroppedAttributes(m.value, fp, out));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeResource(const Value& v, const Path& p, otlp_resource::Resource* out) {
  if (v.IsNull()) return absl::OkStatus();
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (k == "attributes") {
      SKUA_RETURN_IF_ERROR(DecodeAttributes(m.value, fp, out));
    } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
      SKUA_RETURN_IF_ERROR(DecodeDroppedAttributes(m.value, fp, out));
    } else if (Is(k, "entityRefs", "entity_refs")) {
      SKUA_RETURN_IF_ERROR(
          ForEach(m.value, fp, [&](const Value& e, const Path& ep) -> absl::Status {
            SKUA_RETURN_IF_ERROR(ExpectObject(e, ep));
            auto* ref = out->add_entity_refs();
            for (auto& f : e.GetObject()) {
              std::string_view fk = Name(f.name);
              Path rp = ep.Field(fk);
              if (Is(fk, "schemaUrl", "schema_url")) {
                SKUA_RETURN_IF_ERROR(GetString(f.value, rp, ref->mutable_schema_url()));
              } else if (fk == "type") {
                SKUA_RETURN_IF_ERROR(GetString(f.value, rp, ref->mutable_type()));
              } else if (Is(fk, "idKeys", "id_keys")) {
                SKUA_RETURN_IF_ERROR(ForEach(f.value, rp, [&](const Value& s, const Path& sp) {
                  return GetString(s, sp, ref->add_id_keys());
                }));
              } else if (Is(fk, "descriptionKeys", "description_keys")) {
                SKUA_RETURN_IF_ERROR(ForEach(f.value, rp, [&](const Value& s, const Path& sp) {
                  return GetString(s, sp, ref->add_description_keys());
                }));
              }
            }
            return absl::OkStatus();
          }));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeScopeSpans(const Value& v, const Path& p, otlp_trace::ScopeSpans* out) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (k == "scope") {
      SKUA_RETURN_IF_ERROR(DecodeScope(m.value, fp, out->mutable_scope()));
    } else if (k == "spans") {
      SKUA_RETURN_IF_ERROR(ForEach(m.value, fp, [&](const Value& e, const Path& ep) {
        return DecodeSpan(e, ep, out->add_spans());
      }));
    } else if (Is(k, "schemaUrl", "schema_url")) {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_schema_url()));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeResourceSpans(const Value& v, const Path& p, otlp_trace::ResourceSpans* out) {
  SKUA_RETURN_IF_ERROR(ExpectObject(v, p));
  for (auto& m : v.GetObject()) {
    std::string_view k = Name(m.name);
    Path fp = p.Field(k);
    if (k == "resource") {
      SKUA_RETURN_IF_ERROR(DecodeResource(m.value, fp, out->mutable_resource()));
    } else if (Is(k, "scopeSpans", "scope_spans")) {
      SKUA_RETURN_IF_ERROR(ForEach(m.value, fp, [&](const Value& e, const Path& ep) {
        return DecodeScopeSpans(e, ep, out->add_scope_spans());
      }));
    } else if (Is(k, "schemaUrl", "schema_url")) {
      SKUA_RETURN_IF_ERROR(GetString(m.value, fp, out->mutable_schema_url()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeOtlpJson(std::string_view json, otlp_collector::ExportTraceServiceRequest& out) {
  out.Clear();
  rapidjson::Document doc;
  if (auto err = common::ParseJson(json, doc, kMaxJsonDepth, /*nan_and_inf=*/true,
                                   MaxJsonValues(json.size()))) {
    return absl::InvalidArgumentError(
        fmt::format("invalid JSON at offset {}: {}", err->offset, err->what));
  }
  Path root;
  SKUA_RETURN_IF_ERROR(ExpectObject(doc, root));
  for (auto& m : doc.GetObject()) {
    std::string_view k = Name(m.name);
    if (Is(k, "resourceSpans", "resource_spans")) {
      SKUA_RETURN_IF_ERROR(ForEach(m.value, root.Field(k), [&](const Value& e, const Path& ep) {
        return DecodeResourceSpans(e, ep, out.add_resource_spans());
      }));
    }
  }
  return absl::OkStatus();
}

std::string EncodeExportResponseJson(const otlp_collector::ExportTraceServiceResponse& response) {
  if (!response.has_partial_success()) return "{}";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("partialSuccess");
  w.StartObject();
  const auto& ps = response.partial_success();
  if (ps.rejected_spans() != 0) {
    w.Key("rejectedSpans");
    w.String(std::to_string(ps.rejected_spans()).c_str());
  }
  if (!ps.error_message().empty()) {
    w.Key("errorMessage");
    w.String(ps.error_message().data(),
             static_cast<rapidjson::SizeType>(ps.error_message().size()));
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

}  // namespace skua::model
