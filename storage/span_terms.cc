#include "storage/span_terms.h"

#include "model/values.h"

namespace skua::storage {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using TermFn = std::function<void(std::string_view, std::string_view)>;

void EachAttribute(const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs,
                   const TermFn& fn) {
  for (const auto& kv : attrs) {
    if (kv.value().value_case() == otlp_common::AnyValue::kStringValue) {
      fn(kv.key(), kv.value().string_value());
    } else {
      fn(kv.key(), model::ValueAsString(kv.value()));
    }
  }
}

}  // namespace

void ForEachSpanTerm(const otlp_trace::Span& span, const TermFn& fn) {
  EachAttribute(span.attributes(), fn);
  for (const auto& e : span.events()) {
    bool has_event_attr = false;
    for (const auto& kv : e.attributes()) has_event_attr = has_event_attr || kv.key() == "event";
    if (!e.name().empty() && !has_event_attr) fn("event", e.name());
    EachAttribute(e.attributes(), fn);
  }
  for (const auto& l : span.links()) EachAttribute(l.attributes(), fn);
  std::string_view kind = model::SpanKindName(span.kind());
  if (!kind.empty()) fn("span.kind", kind);
  if (span.status().code() == otlp_trace::Status::STATUS_CODE_ERROR) {
    fn("otel.status_code", "ERROR");
    fn("error", "true");
  } else if (span.status().code() == otlp_trace::Status::STATUS_CODE_OK) {
    fn("otel.status_code", "OK");
  }
  if (!span.status().message().empty()) fn("otel.status_description", span.status().message());
  if (!span.trace_state().empty()) fn("w3c.tracestate", span.trace_state());
}

void ForEachResourceTerm(const opentelemetry::proto::resource::v1::Resource& resource,
                         const TermFn& fn) {
  EachAttribute(resource.attributes(), fn);
}

void ForEachScopeTerm(const otlp_common::InstrumentationScope& scope, const TermFn& fn) {
  EachAttribute(scope.attributes(), fn);
  if (!scope.name().empty()) fn("otel.scope.name", scope.name());
  if (!scope.version().empty()) fn("otel.scope.version", scope.version());
}

}  // namespace skua::storage
