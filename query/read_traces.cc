#include "query/read_traces.h"

#include "common/status_macros.h"
#include "query/otlp_adjust.h"

namespace skua::query {

absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> ReadTrace(
    storage::SpanReader& store, const common::TraceId& id) {
  auto trace = store.GetTrace(id);
  if (trace.ok() && trace->has_value()) SanitizeAsJaegerIngest(**trace);
  return trace;
}

absl::Status ForEachHitTrace(
    storage::SpanReader& store, const storage::TraceQuery& query, const common::Clock& clock,
    std::vector<storage::TraceHit>& hits,
    const std::function<bool(opentelemetry::proto::trace::v1::TracesData&)>& fn) {
  for (auto& h : hits) {
    if (query.deadline_ns != 0 && clock.NowNanos() > query.deadline_ns) {
      return absl::DeadlineExceededError("the search ran out of time");
    }
    if (h.trace != nullptr) {
      SanitizeAsJaegerIngest(*h.trace);
      if (!fn(*h.trace)) return absl::OkStatus();
      continue;
    }
    SKUA_ASSIGN_OR_RETURN(auto trace, ReadTrace(store, h.trace_id));
    if (trace.has_value() && !fn(*trace)) return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace skua::query
