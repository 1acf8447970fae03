// Jaeger's ingest sanitizers and query adjusters applied to OTLP traces.

#include "query/otlp_adjust.h"

#include <algorithm>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/values.h"
#include "query/clock_skew.h"
#include "query/jaeger_rules.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using Attributes = google::protobuf::RepeatedPtrField<otlp_common::KeyValue>;

void SortAttributes(Attributes& attrs) {
  std::stable_sort(attrs.pointer_begin(), attrs.pointer_end(),
                   [](const otlp_common::KeyValue* a, const otlp_common::KeyValue* b) {
                     return a->key() < b->key();
                   });
}

void SortCollections(otlp_trace::TracesData& trace) {
  for (auto& rs : *trace.mutable_resource_spans()) {
    SortAttributes(*rs.mutable_resource()->mutable_attributes());
    for (auto& ss : *rs.mutable_scope_spans()) {
      SortAttributes(*ss.mutable_scope()->mutable_attributes());
      for (auto& span : *ss.mutable_spans()) {
        SortAttributes(*span.mutable_attributes());
        auto& events = *span.mutable_events();
        std::stable_sort(events.pointer_begin(), events.pointer_end(),
                         [](const otlp_trace::Span::Event* a, const otlp_trace::Span::Event* b) {
                           return a->name() < b->name();
                         });
        for (auto& e : events) SortAttributes(*e.mutable_attributes());
        for (auto& l : *span.mutable_links()) SortAttributes(*l.mutable_attributes());
      }
    }
  }
}

// The value of the first attribute `key` (as pdata's Map.Get finds it), or null.
const otlp_common::AnyValue* Find(const Attributes& attrs, std::string_view key) {
  for (const auto& kv : attrs) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}
otlp_common::AnyValue* FindMutable(Attributes& attrs, std::string_view key) {
  for (auto& kv : attrs) {
    if (kv.key() == key) return kv.mutable_value();
  }
  return nullptr;
}

// The host of a resource for clock skew: host.id, else host.ip (its first if a list), else
// host.name.
std::string HostKey(const opentelemetry::proto::resource::v1::Resource& resource) {
  if (const auto* id = Find(resource.attributes(), "host.id")) return id->string_value();
  if (const auto* ip = Find(resource.attributes(), "host.ip")) {
    if (ip->value_case() == otlp_common::AnyValue::kStringValue) return ip->string_value();
    if (ip->value_case() == otlp_common::AnyValue::kArrayValue) {
      return ip->array_value().values_size() > 0
                 ? skua::model::ValueAsString(ip->array_value().values(0))
                 : "";
    }
  }
  if (const auto* name = Find(resource.attributes(), "host.name")) return name->string_value();
  return "";
}

void CorrectClockSkew(otlp_trace::TracesData& trace) {
  std::vector<otlp_trace::Span*> spans;
  std::vector<SkewSpan> in;
  for (auto& rs : *trace.mutable_resource_spans()) {
    std::string host = HostKey(rs.resource());
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        spans.push_back(&span);
        in.push_back({IdValue(span.span_id()), IdValue(span.parent_span_id()),
                      static_cast<int64_t>(span.start_time_unix_nano()),
                      static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano()),
                      host});
      }
    }
  }
  auto warnings = ClockSkewWarnings(in, SkewWording::kOtlp);
  for (size_t i = 0; i < spans.size(); ++i) {
    for (auto& w : warnings[i]) skua::model::AddWarning(*spans[i], std::move(w));
  }
}

void NormalizeIp(Attributes& attrs) {
  for (auto& kv : attrs) {
    std::optional<uint32_t> v;
    if (kv.value().value_case() == otlp_common::AnyValue::kIntValue) {
      v = static_cast<uint32_t>(kv.value().int_value());
    }
    if (kv.value().value_case() == otlp_common::AnyValue::kDoubleValue) {
      v = IpOfDouble(kv.value().double_value());
    }
    auto quad = v ? IpAsDottedQuad(kv.key(), *v) : std::nullopt;
    if (quad) kv.mutable_value()->set_string_value(std::move(*quad));
  }
}

// Library attributes of a span go to its resource, unless the resource has another value.
void MoveLibraryAttributes(opentelemetry::proto::resource::v1::Resource& resource,
                           otlp_trace::Span& span) {
  auto& attrs = *span.mutable_attributes();
  for (int i = 0; i < attrs.size();) {
    if (!IsLibraryKey(attrs[i].key())) {
      ++i;
      continue;
    }
    const otlp_common::AnyValue* existing = Find(resource.attributes(), attrs[i].key());
    if (existing != nullptr &&
        existing->SerializeAsString() != attrs[i].value().SerializeAsString()) {
      std::string key = attrs[i].key();
      ++i;
      skua::model::AddWarning(span,
                              "conflicting values between Span and Resource for attribute " + key);
      continue;
    }
    if (existing == nullptr) *resource.add_attributes() = attrs[i];
    attrs.DeleteSubrange(i, 1);
  }
}

void RemoveEmptyLinks(otlp_trace::Span& span) {
  auto& links = *span.mutable_links();
  for (int i = 0; i < links.size();) {
    const std::string& id = links[i].trace_id();
    if (std::any_of(id.begin(), id.end(), [](char c) { return c != 0; })) {
      ++i;
      continue;
    }
    links.DeleteSubrange(i, 1);
    skua::model::AddWarning(span, "Invalid span link removed");
  }
}

// Go's time.Time.String() of a UTC time: "2023-11-14 22:13:20.000001 +0000 UTC".
std::string GoTime(uint64_t unix_nanos) {
  std::time_t seconds = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = date;
  if (uint64_t frac = unix_nanos % 1'000'000'000; frac != 0) {
    std::string f = std::to_string(frac);
    f.insert(0, 9 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + " +0000 UTC";
}

}  // namespace

void SanitizeAsJaegerIngest(otlp_trace::TracesData& trace) {
  for (auto& rs : *trace.mutable_resource_spans()) {
    // The service name storage indexes the spans under (the same sanitizer's rule), put back
    // into the resource.
    const std::string service = skua::model::ServiceNameOf(rs.resource());
    auto& attrs = *rs.mutable_resource()->mutable_attributes();
    if (auto* name = FindMutable(attrs, "service.name"); name == nullptr) {
      auto* kv = attrs.Add();
      kv->set_key("service.name");
      kv->mutable_value()->set_string_value(service);
    } else if (name->value_case() != otlp_common::AnyValue::kStringValue ||
               name->string_value() != service) {
      name->set_string_value(service);
    }
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        if (span.start_time_unix_nano() < span.end_time_unix_nano()) continue;
        uint64_t end = span.start_time_unix_nano() + 1;
        skua::model::AddWarning(
            span, "Negative duration detected, sanitizing end timestamp. Original end timestamp: " +
                      GoTime(span.end_time_unix_nano()) + ", adjusted to: " + GoTime(end));
        span.set_end_time_unix_nano(end);
      }
    }
  }
}

void AdjustOtlpAsJaegerQuery(otlp_trace::TracesData& trace) {
  SortCollections(trace);
  CorrectClockSkew(trace);
  for (auto& rs : *trace.mutable_resource_spans()) {
    NormalizeIp(*rs.mutable_resource()->mutable_attributes());
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) NormalizeIp(*span.mutable_attributes());
    }
  }
  for (auto& rs : *trace.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) MoveLibraryAttributes(*rs.mutable_resource(), span);
    }
  }
  for (auto& rs : *trace.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) RemoveEmptyLinks(span);
    }
  }
}

}  // namespace skua::query
