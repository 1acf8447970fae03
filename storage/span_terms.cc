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

uint64_t TermHash(std::string_view key, std::string_view value) {
  // Eight bytes per round (little-endian loads), each part closed by a word holding its length,
  // so ("ab", "c") and ("a", "bc") differ; finished with a splitmix64 round.
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  auto absorb = [&h](std::string_view s) {
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
  };
  absorb(key);
  absorb(value);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
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
