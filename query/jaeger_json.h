// Jaeger v1 UI-model JSON of a trace (what /api/traces returns), converted from OTLP the way
// Jaeger v2 does it: the collector-contrib OTLP->Jaeger translator, Jaeger's ingest sanitizers
// for service and span names, and the query adjusters that sort attributes and events.
#pragma once

#include <string>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

// One trace as a JSON object {"traceID", "spans", "processes", "warnings"}.
// REQUIRES: `trace` holds at least one span, all of one trace ID.
std::string RenderJaegerTrace(const opentelemetry::proto::trace::v1::TracesData& trace);

}  // namespace skua::query
