// A trace summarized as Jaeger's trace-summaries search reports it (api_v3 TraceSummary, and
// the remote storage API's): root, time range, span, error and orphan counts, per service.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::query {

struct TraceSummary {
  std::string trace_id;  // 16 bytes, of the first span; empty for a trace without spans
  // The earliest-starting span without a parent; empty names if there is none.
  std::string root_service, root_operation;
  uint64_t min_start_ns = 0;  // 0 for a trace without spans
  uint64_t max_end_ns = 0;
  int spans = 0;
  int error_spans = 0;   // status ERROR
  int orphan_spans = 0;  // a parent that is not in the trace
  struct Service {
    std::string name;
    int spans = 0, error_spans = 0;
  };
  std::vector<Service> services;  // sorted by name
};

TraceSummary Summarize(const opentelemetry::proto::trace::v1::TracesData& trace);

}  // namespace skua::query
