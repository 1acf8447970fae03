// OTLP/JSON rendering of stored traces (Jaeger api_v3 `result`): hex IDs, integer enums,
// 64-bit integers and timestamps as decimal strings, lowerCamelCase keys, defaults omitted.
#pragma once

#include <string>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

// {"resourceSpans":[…]}
std::string RenderOtlpTracesData(const opentelemetry::proto::trace::v1::TracesData& data);

}  // namespace skua::query
