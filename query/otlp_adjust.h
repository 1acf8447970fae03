// Jaeger's query adjusters for OTLP traces (Jaeger v2's querysvc/v2 StandardAdjusters), which its
// api_v3 applies to every trace it returns unless `raw_traces` is set.
#pragma once

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

// Adjusts `trace` (one trace) in place, as Jaeger does: attributes of resources, scopes, spans,
// events and links sorted by key and events by name; clock-skew warnings (Jaeger's default
// maximum adjustment is 0, so no time moves); integer "ip" and "peer.ipv4" attributes as dotted
// quads; telemetry.sdk.* and telemetry.distro.* span attributes moved to the resource; links
// with a zero trace ID removed. Warnings go to the span attribute "@jaeger@warnings" in
// Jaeger's words. Not applied: span deduplication (storage already returns a span stored twice
// once) and the client/server span ID uniquifier (for Zipkin's shared spans, not OTLP's).
void AdjustOtlpAsJaegerQuery(opentelemetry::proto::trace::v1::TracesData& trace);

// What Jaeger's storage exporter does to every trace before storing it (its "sanitizers"), done
// here to what is read, so every API answers as Jaeger would, raw or not: a resource without a
// string service.name gets "missing-service-name", "service-name-wrong-type" or
// "empty-service-name"; a span that does not end after it starts ends 1 ns after, with Jaeger's
// warning naming both end times. Storage keeps what was received.
void SanitizeAsJaegerIngest(opentelemetry::proto::trace::v1::TracesData& trace);

}  // namespace skua::query
