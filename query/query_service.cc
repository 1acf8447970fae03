// The query service: defaults, limits, deadlines and reads shared by every query API.

#include "query/query_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "query/otlp_adjust.h"

namespace skua::query {
namespace {

void Adjusted(otlp_trace::TracesData& trace, QueryService::Adjust adjust) {
  if (adjust == QueryService::Adjust::kOtlp) AdjustOtlpAsJaegerQuery(trace);
}

}  // namespace

QueryService::QueryService(storage::SpanReader& reader, config::QueryConfig config,
                           common::Clock& clock)
    : reader_(reader), config_(std::move(config)), clock_(clock) {}

int QueryService::SearchLimit(int64_t requested) const {
  return requested > 0 ? static_cast<int>(std::min<int64_t>(requested, config_.max_limit))
                       : std::min(kDefaultSearchLimit, config_.max_limit);
}

QueryService::Window QueryService::SearchWindow(std::optional<int64_t> start_ns,
                                                std::optional<int64_t> end_ns) const {
  Window w;
  w.end_ns = end_ns ? *end_ns : clock_.NowNanos();
  w.start_ns = start_ns ? *start_ns : std::max<int64_t>(0, w.end_ns - kDefaultSearchLookbackNanos);
  return w;
}

QueryService::Window QueryService::DependencyWindow(std::optional<int64_t> end_ns,
                                                    std::optional<int64_t> lookback_ns) const {
  Window w;
  w.end_ns = end_ns ? *end_ns : clock_.NowNanos();
  w.start_ns = std::max<int64_t>(
      0, w.end_ns - (lookback_ns ? *lookback_ns : kDefaultDependencyLookbackNanos));
  return w;
}

absl::StatusOr<std::optional<otlp_trace::TracesData>> QueryService::GetTrace(
    const std::string& tenant, const common::TraceId& id, Adjust adjust) {
  SKUA_ASSIGN_OR_RETURN(auto trace, ReadTrace(tenant, id));
  if (trace.has_value()) Adjusted(*trace, adjust);
  return trace;
}

absl::StatusOr<std::optional<otlp_trace::TracesData>> QueryService::ReadTrace(
    const std::string& tenant, const common::TraceId& id) {
  auto trace = reader_.GetTrace(tenant, id);
  // Every answer shows a trace as Jaeger's storage would hold it.
  if (trace.ok() && trace->has_value()) SanitizeAsJaegerIngest(**trace);
  return trace;
}

std::vector<std::string> QueryService::Services(const std::string& tenant) {
  return reader_.Services(tenant);
}

std::vector<storage::Operation> QueryService::Operations(const std::string& tenant,
                                                         const std::string& service,
                                                         const std::string& span_kind) {
  if (service.empty()) return {};
  return reader_.Operations(tenant, service, span_kind);
}

std::vector<storage::DependencyLink> QueryService::Dependencies(const std::string& tenant,
                                                                Window window,
                                                                std::string_view service) {
  auto links = reader_.Dependencies(tenant, window.start_ns, window.end_ns);
  if (!service.empty()) {
    std::erase_if(links, [&](const storage::DependencyLink& l) {
      return l.parent != service && l.child != service;
    });
  }
  return links;
}

absl::StatusOr<QueryService::Found> QueryService::FindTraces(storage::TraceQuery query,
                                                             Adjust adjust) {
  query.deadline_ns = clock_.NowNanos() + std::chrono::nanoseconds(config_.timeout).count();
  SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(query));
  Found found;
  found.matched = hits.size();
  uint64_t bytes = 0;
  SKUA_RETURN_IF_ERROR(ForEachHitTrace(query, hits, [&](otlp_trace::TracesData& t) {
    bytes += t.ByteSizeLong();
    if (bytes > config_.max_response_bytes && !found.traces.empty()) {
      found.cut = true;
      return false;
    }
    Adjusted(t, adjust);
    found.traces.push_back(std::move(t));
    return true;
  }));
  return found;
}

absl::Status QueryService::StreamTraces(storage::TraceQuery query, std::chrono::milliseconds budget,
                                        Adjust adjust,
                                        const std::function<bool(otlp_trace::TracesData&)>& send) {
  query.deadline_ns = DeadlineWithin(budget);
  SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(query));
  return ForEachHitTrace(query, hits, [&](otlp_trace::TracesData& t) {
    Adjusted(t, adjust);
    return send(t);
  });
}

int64_t QueryService::DeadlineWithin(std::chrono::milliseconds budget) const {
  return clock_.NowNanos() + std::chrono::nanoseconds(std::min(config_.timeout, budget)).count();
}

absl::StatusOr<std::vector<storage::TraceHit>> QueryService::FindTraceIds(
    storage::TraceQuery query, std::chrono::milliseconds budget) {
  query.deadline_ns = DeadlineWithin(budget);
  return reader_.FindTraces(query);
}

std::string QueryService::CutMessage(const Found& found) const {
  return fmt::format(
      "answer cut at {} of {} traces: their spans exceed query.max_response_bytes "
      "({} bytes); narrow the search or lower its limit",
      found.traces.size(), found.matched, config_.max_response_bytes);
}

absl::Status QueryService::ForEachHitTrace(const storage::TraceQuery& query,
                                           std::vector<storage::TraceHit>& hits,
                                           const std::function<bool(otlp_trace::TracesData&)>& fn) {
  for (auto& h : hits) {
    if (query.deadline_ns != 0 && clock_.NowNanos() > query.deadline_ns) {
      return absl::DeadlineExceededError("the search ran out of time");
    }
    if (h.trace != nullptr) {
      SanitizeAsJaegerIngest(*h.trace);
      if (!fn(*h.trace)) return absl::OkStatus();
      continue;
    }
    SKUA_ASSIGN_OR_RETURN(auto trace, ReadTrace(query.tenant, h.trace_id));
    if (trace.has_value() && !fn(*trace)) return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace skua::query
