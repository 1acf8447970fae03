// What a span can be searched by, and what a search means for one span (SpanMatches, shared by
// the index blocks' search and the verification of their candidates). A tag query `key=value`
// matches a span when one of the span's terms has that key and, compared as a string, that
// value (Jaeger's semantics: typed values are compared in their string form,
// model::ValueAsString: "42", "true", "0.25").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "filter/filter.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/span_store.h"

namespace skua::storage {

// Calls fn(key, value) for every searchable term of a span, duplicates included:
//  - the attributes of the span, of its resource, of its scope, of its events and of its links;
//  - `event` = name for each named event without an `event` attribute (Jaeger's log field);
//  - the tags Jaeger derives from OTLP fields: otel.scope.name, otel.scope.version, span.kind,
//    otel.status_code, error ("true" for status ERROR), otel.status_description,
//    w3c.tracestate.
// `resource_and_scope` = false skips the resource and scope parts (callers that add them once
// per resource).
void ForEachSpanTerm(const opentelemetry::proto::trace::v1::Span& span,
                     const std::function<void(std::string_view, std::string_view)>& fn);
void ForEachResourceTerm(const opentelemetry::proto::resource::v1::Resource& resource,
                         const std::function<void(std::string_view, std::string_view)>& fn);
void ForEachScopeTerm(const opentelemetry::proto::common::v1::InstrumentationScope& scope,
                      const std::function<void(std::string_view, std::string_view)>& fn);

// ForEachSpanTerm's terms with where each comes from: `level` is kSpan, kEvent or kLink, and
// `attribute` the typed value of an attribute term, null for a term Jaeger derives (`event`,
// span.kind, otel.status_code, error, otel.status_description, w3c.tracestate).
void ForEachSpanTermAt(
    const opentelemetry::proto::trace::v1::Span& span,
    const std::function<void(filter::Level level, std::string_view key, std::string_view value,
                             const opentelemetry::proto::common::v1::AnyValue* attribute)>& fn);

// The string form an attribute's value is searched by (model::ValueAsString), without a copy
// for strings; `scratch` holds any other form.
std::string_view TermValue(const opentelemetry::proto::common::v1::AnyValue& value,
                           std::string& scratch);

// The hash of a search term `key=value`. Stable (persisted in sealed blocks). In two steps for
// callers that also need an identity of the key alone: TermHash(k, v) ==
// TermHashFrom(TermKeyState(k), v).
uint64_t TermHash(std::string_view key, std::string_view value);
uint64_t TermKeyState(std::string_view key);
uint64_t TermHashFrom(uint64_t key_state, std::string_view value);

// True if the span, exported under `rs` and `ss`, satisfies every condition of `q` (service,
// operation, time and duration bounds, all tags, the filter): Jaeger's one-span semantics
// evaluated on the stored span itself, tags with the terms and hashes the index uses.
bool SpanMatches(const TraceQuery& q, const opentelemetry::proto::trace::v1::ResourceSpans& rs,
                 const opentelemetry::proto::trace::v1::ScopeSpans& ss,
                 const opentelemetry::proto::trace::v1::Span& span);

}  // namespace skua::storage
