// Reading traces for the query APIs: as Jaeger's storage would hold them (every answer goes
// through SanitizeAsJaegerIngest, otlp_adjust.h).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "storage/span_store.h"

namespace skua::query {

// The trace, or nullopt if nothing of it is stored.
absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> ReadTrace(
    storage::SpanReader& store, const common::TraceId& id);

// Calls fn(trace) for the trace of each hit, in order — as the search read it, or read now; a
// trace gone since the search is skipped — until fn returns false. Stops with kDeadlineExceeded
// before a trace once `clock` is past query.deadline_ns (when set).
absl::Status ForEachHitTrace(
    storage::SpanReader& store, const storage::TraceQuery& query, const common::Clock& clock,
    std::vector<storage::TraceHit>& hits,
    const std::function<bool(opentelemetry::proto::trace::v1::TracesData&)>& fn);

}  // namespace skua::query
