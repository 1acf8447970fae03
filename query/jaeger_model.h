// Jaeger's span model (jaeger.api_v2) of stored OTLP traces, converted the way Jaeger v2 does it:
// the collector-contrib OTLP->Jaeger translator, Jaeger's ingest sanitizers for service and span
// names, and its query adjusters (tag order, warnings, IP and library tags, references). The v1
// JSON API (jaeger_json.h) and the api_v2 gRPC API both render from it.
#pragma once

#include "jaeger/api_v2/model.pb.h"
#include "jaeger/api_v2/query.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

// Appends the spans of `trace` (one trace) to `out`, in the order of its resource, scope and span
// lists, each with its process (service name and resource attributes) set. With `adjust`, they
// are adjusted as Jaeger's query service adjusts what its v1 and api_v2 APIs return; without
// (the APIs' "raw" option), they are as Jaeger's translator makes them.
void AppendJaegerSpans(const opentelemetry::proto::trace::v1::TracesData& trace, bool adjust,
                       jaeger::api_v2::SpansResponseChunk& out);

}  // namespace skua::query
