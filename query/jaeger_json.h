// Jaeger v1 UI-model JSON of a trace (what /api/traces returns), rendered from Jaeger's span
// model of it (jaeger_model.h).
#pragma once

#include <string>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

// One trace as a JSON object {"traceID", "spans", "processes", "warnings"}; `adjust` as for
// AppendJaegerSpans (jaeger_model.h): false for the API's `raw=true`.
// REQUIRES: `trace` holds at least one span, all of one trace ID.
std::string RenderJaegerTrace(const opentelemetry::proto::trace::v1::TracesData& trace,
                              bool adjust);

}  // namespace skua::query
