// Converting OTLP traces to Jaeger's span model (api_v2), with Jaeger's query adjusters.

#include "query/jaeger_model.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "model/values.h"
#include "query/clock_skew.h"
#include "query/jaeger_rules.h"

namespace skua::query {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
namespace model = ::jaeger::api_v2;

void SetValue(model::KeyValue& kv, const otlp_common::AnyValue& v) {
  switch (v.value_case()) {
    case otlp_common::AnyValue::kBoolValue:
      kv.set_v_type(model::BOOL);
      kv.set_v_bool(v.bool_value());
      break;
    case otlp_common::AnyValue::kIntValue:
      kv.set_v_type(model::INT64);
      kv.set_v_int64(v.int_value());
      break;
    case otlp_common::AnyValue::kDoubleValue:
      kv.set_v_type(model::FLOAT64);
      kv.set_v_float64(v.double_value());
      break;
    case otlp_common::AnyValue::kBytesValue:
      kv.set_v_type(model::BINARY);
      kv.set_v_binary(v.bytes_value());
      break;
    case otlp_common::AnyValue::kStringValue:
      kv.set_v_type(model::STRING);
      kv.set_v_str(v.string_value());
      break;
    default:  // arrays and maps as their JSON, as the translator does
      kv.set_v_type(model::STRING);
      kv.set_v_str(skua::model::ValueAsString(v));
      break;
  }
}

void AddTag(google::protobuf::RepeatedPtrField<model::KeyValue>& tags, std::string_view key,
            const otlp_common::AnyValue& v) {
  auto* kv = tags.Add();
  kv->set_key(key.data(), key.size());
  SetValue(*kv, v);
}

void AddStringTag(google::protobuf::RepeatedPtrField<model::KeyValue>& tags, std::string_view key,
                  std::string_view value) {
  auto* kv = tags.Add();
  kv->set_key(key.data(), key.size());
  kv->set_v_type(model::STRING);
  kv->set_v_str(value.data(), value.size());
}

void SetTimestamp(google::protobuf::Timestamp& t, uint64_t unix_nanos) {
  t.set_seconds(static_cast<int64_t>(unix_nanos / 1'000'000'000));
  t.set_nanos(static_cast<int32_t>(unix_nanos % 1'000'000'000));
}

bool IsZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

model::SpanRefType LinkType(const otlp_trace::Span::Link& l) {
  for (const auto& kv : l.attributes()) {
    if (kv.key() == "opentracing.ref_type" && kv.value().string_value() == "child_of") {
      return model::CHILD_OF;
    }
  }
  return model::FOLLOWS_FROM;
}

void AddReference(model::Span& out, model::SpanRefType type, const std::string& trace_id,
                  const std::string& span_id) {
  auto* ref = out.add_references();
  ref->set_trace_id(trace_id);
  ref->set_span_id(span_id);
  ref->set_ref_type(type);
}

void ConvertSpan(const otlp_common::InstrumentationScope& scope, const otlp_trace::Span& span,
                 const model::Process& process, model::Span& out) {
  out.set_trace_id(span.trace_id());
  out.set_span_id(span.span_id());
  out.set_operation_name(span.name().empty() ? "empty-span-name" : span.name());

  // References: the parent first; links after it. A link to the parent only sets its type.
  bool has_parent = span.parent_span_id().size() == 8 && !IsZero(span.parent_span_id());
  auto is_parent_link = [&](const otlp_trace::Span::Link& l) {
    return has_parent && l.trace_id() == span.trace_id() && l.span_id() == span.parent_span_id();
  };
  if (has_parent) {
    model::SpanRefType parent_type = model::CHILD_OF;
    for (const auto& l : span.links()) {
      if (is_parent_link(l)) parent_type = LinkType(l);
    }
    AddReference(out, parent_type, span.trace_id(), span.parent_span_id());
  }
  for (const auto& l : span.links()) {
    if (!is_parent_link(l)) AddReference(out, LinkType(l), l.trace_id(), l.span_id());
  }

  uint64_t start = span.start_time_unix_nano(), end = span.end_time_unix_nano();
  SetTimestamp(*out.mutable_start_time(), start);
  uint64_t duration = end > start ? end - start : 0;
  out.mutable_duration()->set_seconds(static_cast<int64_t>(duration / 1'000'000'000));
  out.mutable_duration()->set_nanos(static_cast<int32_t>(duration % 1'000'000'000));

  auto& tags = *out.mutable_tags();
  if (!scope.name().empty()) AddStringTag(tags, "otel.scope.name", scope.name());
  if (!scope.version().empty()) AddStringTag(tags, "otel.scope.version", scope.version());
  for (const auto& kv : span.attributes()) {
    if (kv.key() == kWarningsAttribute &&
        kv.value().value_case() == otlp_common::AnyValue::kArrayValue) {
      for (const auto& v : kv.value().array_value().values()) out.add_warnings(v.string_value());
      continue;
    }
    AddTag(tags, kv.key(), kv.value());
  }
  if (auto kind = skua::model::SpanKindName(span.kind()); !kind.empty()) {
    AddStringTag(tags, "span.kind", kind);
  }
  if (span.status().code() == otlp_trace::Status::STATUS_CODE_ERROR) {
    AddStringTag(tags, "otel.status_code", "ERROR");
    auto* error = tags.Add();
    error->set_key("error");
    error->set_v_type(model::BOOL);
    error->set_v_bool(true);
  } else if (span.status().code() == otlp_trace::Status::STATUS_CODE_OK) {
    AddStringTag(tags, "otel.status_code", "OK");
  }
  if (!span.status().message().empty()) {
    AddStringTag(tags, "otel.status_description", span.status().message());
  }
  if (!span.trace_state().empty()) AddStringTag(tags, "w3c.tracestate", span.trace_state());

  // Events become logs, in their order (the v1 adjusters do not sort them).
  for (const auto& e : span.events()) {
    auto* log = out.add_logs();
    SetTimestamp(*log->mutable_timestamp(), e.time_unix_nano());
    bool has_event_attr = std::any_of(e.attributes().begin(), e.attributes().end(),
                                      [](const auto& kv) { return kv.key() == "event"; });
    if (!e.name().empty() && !has_event_attr) {
      AddStringTag(*log->mutable_fields(), "event", e.name());
    }
    for (const auto& kv : e.attributes()) AddTag(*log->mutable_fields(), kv.key(), kv.value());
  }
  *out.mutable_process() = process;
}

// ---- Jaeger's query adjusters (v1 model), in Jaeger's order ----
//
// Jaeger's query service passes every trace it returns through the v1 API and api_v2 through
// these (cmd/query/app/querysvc/adjusters.go, StandardAdjusters): sort tags and log fields,
// dedupe spans by hash, clock skew (by default with a maximum adjustment of 0: warnings only),
// IP tags, OTel library tags, bad references, parent reference first. Span deduplication is
// left to storage, which returns a span stored twice once; the Zipkin span ID uniquifier does
// not apply to OTLP spans.

using Tags = google::protobuf::RepeatedPtrField<model::KeyValue>;

// Jaeger's KeyValue order: key, then type, then value.
bool KeyValueLess(const model::KeyValue* a, const model::KeyValue* b) {
  if (a->key() != b->key()) return a->key() < b->key();
  if (a->v_type() != b->v_type()) return a->v_type() < b->v_type();
  if (a->v_str() != b->v_str()) return a->v_str() < b->v_str();
  if (a->v_bool() != b->v_bool()) return !a->v_bool();
  if (a->v_int64() != b->v_int64()) return a->v_int64() < b->v_int64();
  if (a->v_float64() != b->v_float64()) return a->v_float64() < b->v_float64();
  return a->v_binary() < b->v_binary();
}

void SortTags(Tags& tags, int from = 0) {
  // Processes arrive sorted more often than not (spans of one resource share their tags).
  if (std::is_sorted(tags.pointer_begin() + from, tags.pointer_end(), KeyValueLess)) return;
  std::sort(tags.pointer_begin() + from, tags.pointer_end(), KeyValueLess);
}

void SortTagsAndLogFields(model::Span& span) {
  SortTags(*span.mutable_tags());
  SortTags(*span.mutable_process()->mutable_tags());
  for (auto& log : *span.mutable_logs()) {
    // The first string "event" field first, the others sorted.
    auto& fields = *log.mutable_fields();
    int offset = 0;
    for (int i = 0; i < fields.size(); ++i) {
      if (fields[i].key() == "event" && fields[i].v_type() == model::STRING) {
        if (i > 0) fields.SwapElements(0, i);
        offset = 1;
        break;
      }
    }
    if (fields.size() > 1) SortTags(fields, offset);
  }
}

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}
int64_t Nanos(const google::protobuf::Duration& d) {
  return d.seconds() * 1'000'000'000 + d.nanos();
}

// The low 64 bits of a trace ID's bytes (all of an 8-byte one), and the high ones.
std::pair<uint64_t, uint64_t> TraceIdValue(std::string_view raw) {
  if (raw.size() <= 8) return {0, IdValue(raw)};
  return {IdValue(raw.substr(0, raw.size() - 8)), IdValue(raw.substr(raw.size() - 8))};
}

// The parent in Jaeger's sense: the first child-of reference within the trace, else the first
// follows-from one; 0 if none.
uint64_t ParentSpanId(const model::Span& span) {
  std::optional<uint64_t> follows_from;
  for (const auto& ref : span.references()) {
    if (TraceIdValue(ref.trace_id()) != TraceIdValue(span.trace_id())) continue;
    if (ref.ref_type() == model::CHILD_OF) return IdValue(ref.span_id());
    if (!follows_from) follows_from = IdValue(ref.span_id());
  }
  return follows_from.value_or(0);
}

// The host of a span for clock skew: its process's "ip" tag.
std::string HostKey(const model::Span& span) {
  for (const auto& tag : span.process().tags()) {
    if (tag.key() != "ip") continue;
    if (tag.v_type() == model::STRING) return tag.v_str();
    if (tag.v_type() == model::INT64) {
      return *IpAsDottedQuad(tag.key(), static_cast<uint32_t>(tag.v_int64()));
    }
    if (tag.v_type() == model::BINARY && tag.v_binary().size() == 4) {
      return *IpAsDottedQuad(tag.key(), static_cast<uint32_t>(IdValue(tag.v_binary())));
    }
    return "";
  }
  return "";
}

// Clock skew, as Jaeger runs it by default: warnings only (clock_skew.h).
void ClockSkewWarnings(std::vector<model::Span*>& spans) {
  std::vector<SkewSpan> in;
  in.reserve(spans.size());
  for (const auto* s : spans) {
    in.push_back({IdValue(s->span_id()), ParentSpanId(*s), Nanos(s->start_time()),
                  Nanos(s->duration()), HostKey(*s)});
  }
  auto warnings = ClockSkewWarnings(in, SkewWording::kSpanModel);
  for (size_t i = 0; i < spans.size(); ++i) {
    for (auto& w : warnings[i]) spans[i]->add_warnings(std::move(w));
  }
}

// Integer "ip" and "peer.ipv4" tags as dotted quads; true if one changed.
bool IpTags(Tags& tags) {
  bool changed = false;
  for (auto& tag : tags) {
    std::optional<uint32_t> v;
    if (tag.v_type() == model::INT64) v = static_cast<uint32_t>(tag.v_int64());
    if (tag.v_type() == model::FLOAT64) v = IpOfDouble(tag.v_float64());
    auto quad = v ? IpAsDottedQuad(tag.key(), *v) : std::nullopt;
    if (!quad) continue;
    std::string key = tag.key();
    tag.Clear();
    tag.set_key(std::move(key));
    tag.set_v_type(model::STRING);
    tag.set_v_str(std::move(*quad));
    changed = true;
  }
  return changed;
}

// OpenTelemetry SDK and distro tags on a span belong to its process.
void MoveLibraryTags(model::Span& span) {
  auto& tags = *span.mutable_tags();
  int kept = 0;
  for (int i = 0; i < tags.size(); ++i) {
    if (IsLibraryKey(tags[i].key())) {
      *span.mutable_process()->add_tags() = tags[i];
    } else {
      if (i != kept) tags.SwapElements(i, kept);
      ++kept;
    }
  }
  if (kept == tags.size()) return;
  while (tags.size() > kept) tags.RemoveLast();
  SortTags(*span.mutable_process()->mutable_tags());
}

// References with a zero trace ID are removed, each with Jaeger's warning (Go's %+v of the
// reference).
void RemoveBadReferences(model::Span& span) {
  auto& refs = *span.mutable_references();
  int kept = 0;
  for (int i = 0; i < refs.size(); ++i) {
    if (TraceIdValue(refs[i].trace_id()) == std::pair<uint64_t, uint64_t>{0, 0}) {
      char id[17];
      std::snprintf(id, sizeof(id), "%016llx",
                    static_cast<unsigned long long>(IdValue(refs[i].span_id())));
      span.add_warnings(std::string("Invalid span reference removed {TraceID:0000000000000000 "
                                    "SpanID:") +
                        id + " RefType:" + model::SpanRefType_Name(refs[i].ref_type()) +
                        " XXX_NoUnkeyedLiteral:{} XXX_unrecognized:[] XXX_sizecache:0}");
      continue;
    }
    if (i != kept) refs.SwapElements(i, kept);
    ++kept;
  }
  while (refs.size() > kept) refs.RemoveLast();
}

// The first child-of reference within the trace first (else the first other one in it).
void ParentReferenceFirst(model::Span& span) {
  int child_of = -1, other = -1;
  for (int i = 0; i < span.references_size(); ++i) {
    if (TraceIdValue(span.references(i).trace_id()) != TraceIdValue(span.trace_id())) continue;
    if (span.references(i).ref_type() == model::CHILD_OF) {
      child_of = i;
      break;
    }
    if (other == -1) other = i;
  }
  int swap = child_of != -1 ? child_of : other;
  if (swap > 0) span.mutable_references()->SwapElements(0, swap);
}

void AdjustAsJaegerQuery(std::vector<model::Span*>& spans) {
  for (auto* s : spans) SortTagsAndLogFields(*s);
  ClockSkewWarnings(spans);
  for (auto* s : spans) {
    IpTags(*s->mutable_tags());
    if (IpTags(*s->mutable_process()->mutable_tags())) {
      SortTags(*s->mutable_process()->mutable_tags());
    }
  }
  for (auto* s : spans) MoveLibraryTags(*s);
  for (auto* s : spans) RemoveBadReferences(*s);
  for (auto* s : spans) ParentReferenceFirst(*s);
}

}  // namespace

void AppendJaegerSpans(const otlp_trace::TracesData& trace, bool adjust,
                       model::SpansResponseChunk& out) {
  const int first = out.spans_size();
  for (const auto& rs : trace.resource_spans()) {
    model::Process process;
    process.set_service_name(skua::model::ServiceNameOf(rs.resource()));
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() != "service.name") AddTag(*process.mutable_tags(), kv.key(), kv.value());
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) ConvertSpan(ss.scope(), span, process, *out.add_spans());
    }
  }
  if (!adjust) return;
  std::vector<model::Span*> spans;
  for (int i = first; i < out.spans_size(); ++i) spans.push_back(out.mutable_spans(i));
  AdjustAsJaegerQuery(spans);
}

}  // namespace skua::query
