// Rules of the trace data model that every part applies alike: the string form of attribute
// values, span kind names and the service name of a resource, as Jaeger defines them.
#pragma once

#include <string>
#include <string_view>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::model {

// Deepest AnyValue nesting Skua stores: an attribute's value is level 1, a value inside its array
// or key-value list level 2, and so on. Each level costs two protobuf message levels, and stored
// rows must stay well inside protobuf's parse limit of 100 nested messages.
inline constexpr int kMaxValueDepth = 32;

// The string form of an attribute value: strings as they are, booleans "true"/"false",
// integers in decimal, doubles in shortest round-trip form, bytes in base64, arrays and maps as
// JSON text (as Jaeger renders them), the empty value as "".
std::string ValueAsString(const opentelemetry::proto::common::v1::AnyValue& value);

// The span attribute Jaeger keeps a span's warnings in (a list of strings); its APIs show them
// as the span's warnings.
inline constexpr char kWarningsAttribute[] = "@jaeger@warnings";

// Appends `warning` to the span's kWarningsAttribute list (created at the end of its attributes).
void AddWarning(opentelemetry::proto::trace::v1::Span& span, std::string warning);

// Jaeger's lowercase span kind ("server", …), or "" for UNSPECIFIED.
std::string_view SpanKindName(opentelemetry::proto::trace::v1::Span::SpanKind kind);

// The service name of a resource, sanitized as Jaeger's ingest does.
std::string ServiceNameOf(const opentelemetry::proto::resource::v1::Resource& resource);

}  // namespace skua::model
