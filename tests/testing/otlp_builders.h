// Builders of OTLP messages for unit tests.
#pragma once

#include <cstdint>
#include <string>

#include "common/ids.h"
#include "config/config.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace skua::testing {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace otlp_common = ::opentelemetry::proto::common::v1;
using ExportRequest = ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// 16 raw bytes of a trace ID from up to 32 hex digits.
inline std::string TraceIdBytes(std::string_view hex) {
  return std::string(common::ParseTraceIdHex(hex)->AsBytes());
}

// 8 raw bytes of a span ID: `n` big-endian.
inline std::string SpanIdBytes(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, n >>= 8) out[i] = static_cast<char>(n & 0xFF);
  return out;
}

inline void AddStringAttr(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attrs,
                          const std::string& key, const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

// A ResourceSpans for `service` with one scope, appended to `req`.
inline otlp_trace::ScopeSpans* AddResource(ExportRequest& req, const std::string& service,
                                           const std::string& host = "host-1") {
  auto* rs = req.add_resource_spans();
  AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name", service);
  AddStringAttr(rs->mutable_resource()->mutable_attributes(), "host.name", host);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("test-lib");
  ss->mutable_scope()->set_version("1.0");
  return ss;
}

inline otlp_trace::Span* AddSpan(otlp_trace::ScopeSpans* ss, std::string_view trace_hex,
                                 uint64_t span_id, uint64_t parent_id, const std::string& name,
                                 uint64_t start_ns, uint64_t duration_ns) {
  auto* s = ss->add_spans();
  s->set_trace_id(TraceIdBytes(trace_hex));
  s->set_span_id(SpanIdBytes(span_id));
  if (parent_id != 0) s->set_parent_span_id(SpanIdBytes(parent_id));
  s->set_name(name);
  s->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(start_ns + duration_ns);
  return s;
}

// A storage configuration for tests: `path`, `shards`, everything else default.
inline config::StorageConfig TestStorage(std::string path, int shards) {
  config::StorageConfig c;
  c.path = std::move(path);
  c.shards = shards;
  return c;
}

// Number of spans in a TracesData.
inline int CountSpans(const otlp_trace::TracesData& td) {
  int n = 0;
  for (const auto& rs : td.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

}  // namespace skua::testing
