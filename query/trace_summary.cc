#include "query/trace_summary.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "model/values.h"

namespace skua::query {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;

TraceSummary Summarize(const otlp_trace::TracesData& trace) {
  TraceSummary out;
  std::unordered_set<std::string_view> span_ids;
  for (const auto& rs : trace.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) span_ids.insert(s.span_id());
    }
  }
  std::map<std::string, TraceSummary::Service> services;
  uint64_t min_start = UINT64_MAX;
  const otlp_trace::Span* root = nullptr;
  for (const auto& rs : trace.resource_spans()) {
    std::string service = model::ServiceNameOf(rs.resource());
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (out.trace_id.empty()) out.trace_id = s.trace_id();
        ++out.spans;
        bool error = s.status().code() == otlp_trace::Status::STATUS_CODE_ERROR;
        out.error_spans += error;
        auto& per_service = services[service];
        ++per_service.spans;
        per_service.error_spans += error;
        min_start = std::min(min_start, s.start_time_unix_nano());
        out.max_end_ns = std::max(out.max_end_ns, s.end_time_unix_nano());
        if (s.parent_span_id().empty()) {
          if (root == nullptr || s.start_time_unix_nano() < root->start_time_unix_nano()) {
            root = &s;
            out.root_service = service;
          }
        } else if (!span_ids.contains(s.parent_span_id())) {
          ++out.orphan_spans;
        }
      }
    }
  }
  if (root != nullptr) out.root_operation = root->name();
  out.min_start_ns = out.spans > 0 ? min_start : 0;
  for (auto& [name, s] : services) {
    s.name = name;
    out.services.push_back(std::move(s));
  }
  return out;
}

}  // namespace skua::query
