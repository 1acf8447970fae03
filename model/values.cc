// The data model's rules: attribute values as strings, span kind names, service names.

#include "model/values.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

namespace skua::model {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::string Base64(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", d);
}

void WriteJson(JsonWriter& w, const otlp_common::AnyValue& v) {
  switch (v.value_case()) {
    case otlp_common::AnyValue::kStringValue:
      w.String(v.string_value().data(), static_cast<rapidjson::SizeType>(v.string_value().size()));
      break;
    case otlp_common::AnyValue::kBoolValue:
      w.Bool(v.bool_value());
      break;
    case otlp_common::AnyValue::kIntValue:
      w.Int64(v.int_value());
      break;
    case otlp_common::AnyValue::kDoubleValue:
      if (std::isfinite(v.double_value())) {
        w.Double(v.double_value());
      } else {
        std::string s = FormatDouble(v.double_value());
        w.String(s.c_str());
      }
      break;
    case otlp_common::AnyValue::kBytesValue: {
      std::string s = Base64(v.bytes_value());
      w.String(s.c_str());
      break;
    }
    case otlp_common::AnyValue::kArrayValue:
      w.StartArray();
      for (const auto& e : v.array_value().values()) WriteJson(w, e);
      w.EndArray();
      break;
    case otlp_common::AnyValue::kKvlistValue:
      w.StartObject();
      for (const auto& kv : v.kvlist_value().values()) {
        w.Key(kv.key().data(), static_cast<rapidjson::SizeType>(kv.key().size()));
        WriteJson(w, kv.value());
      }
      w.EndObject();
      break;
    default:
      w.Null();
      break;
  }
}

}  // namespace

std::string ValueAsString(const otlp_common::AnyValue& value) {
  switch (value.value_case()) {
    case otlp_common::AnyValue::kStringValue:
      return value.string_value();
    case otlp_common::AnyValue::VALUE_NOT_SET:
      return "";
    case otlp_common::AnyValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case otlp_common::AnyValue::kIntValue:
      return std::to_string(value.int_value());
    case otlp_common::AnyValue::kDoubleValue:
      return FormatDouble(value.double_value());
    case otlp_common::AnyValue::kBytesValue:
      return Base64(value.bytes_value());
    default: {
      rapidjson::StringBuffer buf;
      JsonWriter w(buf);
      WriteJson(w, value);
      return buf.GetString();
    }
  }
}

void AddWarning(otlp_trace::Span& span, std::string warning) {
  otlp_common::AnyValue* list = nullptr;
  for (auto& kv : *span.mutable_attributes()) {
    if (kv.key() == kWarningsAttribute) list = kv.mutable_value();
  }
  if (list == nullptr) {
    auto* kv = span.add_attributes();
    kv->set_key(kWarningsAttribute);
    list = kv->mutable_value();
  }
  list->mutable_array_value()->add_values()->set_string_value(std::move(warning));
}

std::string_view SpanKindName(otlp_trace::Span::SpanKind kind) {
  switch (kind) {
    case otlp_trace::Span::SPAN_KIND_INTERNAL:
      return "internal";
    case otlp_trace::Span::SPAN_KIND_SERVER:
      return "server";
    case otlp_trace::Span::SPAN_KIND_CLIENT:
      return "client";
    case otlp_trace::Span::SPAN_KIND_PRODUCER:
      return "producer";
    case otlp_trace::Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "";
  }
}

std::string ServiceNameOf(const opentelemetry::proto::resource::v1::Resource& resource) {
  for (const auto& kv : resource.attributes()) {
    if (kv.key() != "service.name") continue;
    if (kv.value().value_case() != otlp_common::AnyValue::kStringValue) {
      return "service-name-wrong-type";
    }
    return kv.value().string_value().empty() ? "empty-service-name" : kv.value().string_value();
  }
  return "missing-service-name";
}

}  // namespace skua::model
