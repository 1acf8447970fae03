// The terms a span is searchable by, their hashes, and whether a span matches a search.

#include "storage/span_terms.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "model/values.h"

namespace skua::storage {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using TermFn = std::function<void(std::string_view, std::string_view)>;

using LevelFn = std::function<void(filter::Level, std::string_view, std::string_view,
                                   const otlp_common::AnyValue*)>;

void EachAttribute(const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs,
                   const TermFn& fn) {
  std::string scratch;
  for (const auto& kv : attrs) fn(kv.key(), TermValue(kv.value(), scratch));
}

void EachAttributeAt(filter::Level level,
                     const google::protobuf::RepeatedPtrField<otlp_common::KeyValue>& attrs,
                     const LevelFn& fn) {
  std::string scratch;
  for (const auto& kv : attrs) fn(level, kv.key(), TermValue(kv.value(), scratch), &kv.value());
}

// Absorbs `s` eight bytes per round (little-endian loads), closed by a word holding its
// length, so ("ab", "c") and ("a", "bc") differ.
uint64_t Absorb(uint64_t h, std::string_view s) {
  size_t i = 0;
  uint64_t w;
  for (; i + 8 <= s.size(); i += 8) {
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x9fb21c651e98df25ULL;
    h ^= h >> 29;
  }
  w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w ^ (static_cast<uint64_t>(s.size()) << 56)) * 0x9fb21c651e98df25ULL;
  h ^= h >> 29;
  return h;
}

}  // namespace

void ForEachSpanTermAt(const otlp_trace::Span& span, const LevelFn& fn) {
  using filter::Level;
  EachAttributeAt(Level::kSpan, span.attributes(), fn);
  for (const auto& e : span.events()) {
    bool has_event_attr = false;
    for (const auto& kv : e.attributes()) has_event_attr = has_event_attr || kv.key() == "event";
    if (!e.name().empty() && !has_event_attr) fn(Level::kEvent, "event", e.name(), nullptr);
    EachAttributeAt(Level::kEvent, e.attributes(), fn);
  }
  for (const auto& l : span.links()) EachAttributeAt(Level::kLink, l.attributes(), fn);
  std::string_view kind = model::SpanKindName(span.kind());
  if (!kind.empty()) fn(Level::kSpan, "span.kind", kind, nullptr);
  if (span.status().code() == otlp_trace::Status::STATUS_CODE_ERROR) {
    fn(Level::kSpan, "otel.status_code", "ERROR", nullptr);
    fn(Level::kSpan, "error", "true", nullptr);
  } else if (span.status().code() == otlp_trace::Status::STATUS_CODE_OK) {
    fn(Level::kSpan, "otel.status_code", "OK", nullptr);
  }
  if (!span.status().message().empty()) {
    fn(Level::kSpan, "otel.status_description", span.status().message(), nullptr);
  }
  if (!span.trace_state().empty()) fn(Level::kSpan, "w3c.tracestate", span.trace_state(), nullptr);
}

void ForEachSpanTerm(const otlp_trace::Span& span, const TermFn& fn) {
  ForEachSpanTermAt(span, [&fn](filter::Level, std::string_view k, std::string_view v,
                                const otlp_common::AnyValue*) { fn(k, v); });
}

std::string_view TermValue(const otlp_common::AnyValue& value, std::string& scratch) {
  if (value.value_case() == otlp_common::AnyValue::kStringValue) return value.string_value();
  scratch = model::ValueAsString(value);
  return scratch;
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

uint64_t TermKeyState(std::string_view key) { return Absorb(0x9e3779b97f4a7c15ULL, key); }

uint64_t TermHashFrom(uint64_t key_state, std::string_view value) {
  uint64_t h = Absorb(key_state, value);  // then a splitmix64 finish
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

uint64_t TermHash(std::string_view key, std::string_view value) {
  return TermHashFrom(TermKeyState(key), value);
}

bool SpanMatches(const TraceQuery& q, const otlp_trace::ResourceSpans& rs,
                 const otlp_trace::ScopeSpans& ss, const otlp_trace::Span& span) {
  const auto& resource = rs.resource();
  const auto& scope = ss.scope();
  if (!q.service.empty() && model::ServiceNameOf(resource) != q.service) return false;
  if (!q.operation.empty() &&
      (span.name().empty() ? std::string_view("empty-span-name") : span.name()) != q.operation) {
    return false;
  }
  int64_t start = static_cast<int64_t>(span.start_time_unix_nano());
  if (q.start_min_ns != 0 && start < q.start_min_ns) return false;
  if (q.start_max_ns != 0 && start > q.start_max_ns) return false;
  int64_t duration =
      span.end_time_unix_nano() > span.start_time_unix_nano()
          ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
          : 0;
  if (q.duration_min_ns != 0 && duration < q.duration_min_ns) return false;
  if (q.duration_max_ns != 0 && duration > q.duration_max_ns) return false;
  if (q.filter != nullptr && !q.filter->Matches(rs, ss, span)) return false;
  if (q.tags.empty() && q.any_tags.empty()) return true;
  std::vector<uint64_t> terms;
  auto add = [&terms](std::string_view k, std::string_view v) { terms.push_back(TermHash(k, v)); };
  ForEachSpanTerm(span, add);
  ForEachResourceTerm(resource, add);
  ForEachScopeTerm(scope, add);
  auto has = [&](const std::pair<std::string, std::string>& tag) {
    return std::find(terms.begin(), terms.end(), TermHash(tag.first, tag.second)) != terms.end();
  };
  for (const auto& tag : q.tags) {
    if (!has(tag)) return false;
  }
  for (const auto& group : q.any_tags) {
    if (std::none_of(group.begin(), group.end(), has)) return false;
  }
  return true;
}

}  // namespace skua::storage
