// Rules the query APIs share (v1 and api_v3 over HTTP, api_v2 and api_v3 over gRPC).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "storage/span_store.h"

namespace skua::query {

// Traces a search returns when it names no limit (Jaeger's storage default).
inline constexpr int kDefaultSearchLimit = 100;

// When a search that starts now must stop (TraceQuery::deadline_ns): `timeout` (query.timeout,
// or less if the client's deadline is sooner) from now.
inline int64_t SearchDeadline(const common::Clock& clock, std::chrono::milliseconds timeout) {
  return clock.NowNanos() + std::chrono::nanoseconds(timeout).count();
}

// The number of traces a search asks for (v1 `limit`, api_v3 `search_depth`, api_v2
// `num_traces`): the default if not positive, at most `max_limit` (query.max_limit).
inline int SearchLimit(int64_t requested, int max_limit) {
  return requested > 0 ? static_cast<int>(std::min<int64_t>(requested, max_limit))
                       : std::min(kDefaultSearchLimit, max_limit);
}

// An operation's span kind as api_v3 reports it: Jaeger v2 reports an unspecified kind as
// "internal".
inline std::string_view V3SpanKind(const storage::Operation& op) {
  return op.span_kind.empty() ? std::string_view("internal") : std::string_view(op.span_kind);
}

}  // namespace skua::query
