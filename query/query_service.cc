// The query service: defaults, limits, deadlines and reads shared by every query API.

#include "query/query_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "query/otlp_adjust.h"
#include "query/page_token.h"

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
                                                             Adjust adjust, Paging* paging) {
  query.deadline_ns = clock_.NowNanos() + std::chrono::nanoseconds(config_.timeout).count();
  SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(query));
  CutPage(query, hits, paging);
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
  if (found.cut && paging != nullptr) {
    // The page ends at the last trace that fit: the next one starts right after it.
    std::string id;
    for (const auto& rs : found.traces.back().resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        if (id.empty() && ss.spans_size() > 0) id = ss.spans(0).trace_id();
      }
    }
    for (const auto& h : hits) {
      if (h.trace_id.AsBytes() == id) {
        paging->next_token = EncodePageToken(QueryFingerprint(query), {h.start_ns, h.trace_id});
      }
    }
  }
  return found;
}

absl::Status QueryService::StreamTraces(storage::TraceQuery query, std::chrono::milliseconds budget,
                                        Adjust adjust,
                                        const std::function<bool(otlp_trace::TracesData&)>& send,
                                        Paging* paging) {
  query.deadline_ns = DeadlineWithin(budget);
  SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(query));
  CutPage(query, hits, paging);
  return ForEachHitTrace(query, hits, [&](otlp_trace::TracesData& t) {
    Adjusted(t, adjust);
    return send(t);
  });
}

int64_t QueryService::DeadlineWithin(std::chrono::milliseconds budget) const {
  return clock_.NowNanos() + std::chrono::nanoseconds(std::min(config_.timeout, budget)).count();
}

absl::StatusOr<std::vector<storage::TraceHit>> QueryService::FindTraceIds(
    storage::TraceQuery query, std::chrono::milliseconds budget, Paging* paging) {
  query.deadline_ns = DeadlineWithin(budget);
  SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(query));
  CutPage(query, hits, paging);
  return hits;
}

absl::Status QueryService::ToPage(storage::TraceQuery& query, uint32_t size,
                                  std::string_view token) const {
  if (size == 0) return absl::InvalidArgumentError("query.pagination.page_size is required");
  // One more than the page: whether it comes back says whether there is a next page.
  query.limit = std::min<int64_t>(size, config_.max_limit) + 1;
  if (token.empty()) return absl::OkStatus();
  SKUA_ASSIGN_OR_RETURN(query.after, DecodePageToken(token, QueryFingerprint(query)));
  return absl::OkStatus();
}

void QueryService::CutPage(const storage::TraceQuery& query, std::vector<storage::TraceHit>& hits,
                           Paging* paging) const {
  if (paging == nullptr) return;
  paging->next_token.clear();
  auto page = static_cast<size_t>(std::max(query.limit - 1, 1));
  if (hits.size() <= page) return;
  hits.resize(page);
  paging->next_token =
      EncodePageToken(QueryFingerprint(query), {hits.back().start_ns, hits.back().trace_id});
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

namespace {

// One matching span of a span search, and where it came from.
struct FoundSpan {
  int64_t start_ns;
  common::TraceId trace_id;
  std::string span_id;
  std::shared_ptr<const otlp_trace::TracesData> trace;  // keeps rs/ss/span alive
  const otlp_trace::ResourceSpans* rs;
  const otlp_trace::ScopeSpans* ss;
  const otlp_trace::Span* span;
};

bool Before(const FoundSpan& a, const FoundSpan& b) {
  if (a.start_ns != b.start_ns) return a.start_ns > b.start_ns;
  if (a.trace_id != b.trace_id) return a.trace_id < b.trace_id;
  return a.span_id < b.span_id;
}

}  // namespace

absl::StatusOr<QueryService::SpanPage> QueryService::FindSpans(
    const std::string& tenant, int64_t start_min_ns, int64_t start_max_ns,
    std::shared_ptr<const filter::Filter> filter, uint32_t page_size, std::string_view token) {
  if (page_size == 0) return absl::InvalidArgumentError("query.pagination.page_size is required");
  const size_t page = std::min<size_t>(page_size, static_cast<size_t>(config_.max_limit));
  // What the tokens are bound to: the tenant, the window and the filter (a trace search's
  // token has another format version, so it is refused here).
  storage::TraceQuery q;
  q.tenant = tenant;
  q.start_min_ns = start_min_ns;
  q.start_max_ns = start_max_ns;
  q.filter = filter;
  const uint64_t fingerprint = QueryFingerprint(q);
  std::optional<SpanCursor> cursor;
  if (!token.empty()) {
    SKUA_ASSIGN_OR_RETURN(cursor, DecodeSpanPageToken(token, fingerprint));
    // Spans after the cursor start no later than it: the search's window ends there.
    if (q.start_max_ns == 0 || cursor->start_ns < q.start_max_ns) q.start_max_ns = cursor->start_ns;
  }
  q.deadline_ns = clock_.NowNanos() + std::chrono::nanoseconds(config_.timeout).count();

  std::vector<FoundSpan> found;
  auto collect = [&](std::shared_ptr<const otlp_trace::TracesData> trace) {
    for (const auto& rs : trace->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          auto start = static_cast<int64_t>(span.start_time_unix_nano());
          if (q.start_min_ns != 0 && start < q.start_min_ns) continue;
          if (q.start_max_ns != 0 && start > q.start_max_ns) continue;
          if (filter != nullptr && !filter->Matches(rs, ss, span)) continue;
          auto id = common::TraceId::FromBytes(span.trace_id());
          if (!id) continue;
          FoundSpan f{start, *id, span.span_id(), trace, &rs, &ss, &span};
          if (cursor && !Before(FoundSpan{cursor->start_ns, cursor->trace_id, cursor->span_id,
                                          nullptr, nullptr, nullptr, nullptr},
                                f)) {
            continue;
          }
          found.push_back(std::move(f));
        }
      }
    }
  };
  auto hints = filter != nullptr ? filter::Narrow(*filter) : filter::IndexHints{};
  if (!hints.trace_ids.empty()) {
    // The filter names its traces: read them, no search.
    for (const auto& hex : hints.trace_ids) {
      auto id = common::ParseTraceIdHex(hex);
      if (!id) continue;
      SKUA_ASSIGN_OR_RETURN(auto trace, ReadTrace(tenant, *id));
      if (trace) collect(std::make_shared<const otlp_trace::TracesData>(std::move(*trace)));
    }
  } else {
    // Traces come in the order of their newest matching span, so once the (page + 1)-th newest
    // span found is newer than the next trace's newest, no later trace can change the page.
    q.limit = 32;
    for (;;) {
      SKUA_ASSIGN_OR_RETURN(auto hits, reader_.FindTraces(q));
      bool done = hits.size() < static_cast<size_t>(q.limit);
      for (auto& h : hits) {
        if (found.size() > page) {
          std::nth_element(found.begin(), found.begin() + static_cast<long>(page), found.end(),
                           Before);
          if (found[page].start_ns > h.start_ns) {
            done = true;
            break;
          }
        }
        if (clock_.NowNanos() > q.deadline_ns) {
          return absl::DeadlineExceededError("the search ran out of time");
        }
        if (h.trace != nullptr) SanitizeAsJaegerIngest(*h.trace);
        std::shared_ptr<const otlp_trace::TracesData> trace = std::move(h.trace);
        if (trace == nullptr) {
          SKUA_ASSIGN_OR_RETURN(auto read, ReadTrace(tenant, h.trace_id));
          if (!read) continue;
          trace = std::make_shared<const otlp_trace::TracesData>(std::move(*read));
        }
        collect(std::move(trace));
      }
      if (done || hits.empty()) break;
      q.after = storage::PageCursor{hits.back().start_ns, hits.back().trace_id};
    }
  }
  std::sort(found.begin(), found.end(), Before);
  SpanPage out;
  if (found.size() > page) {
    found.resize(page);
    const FoundSpan& last = found.back();
    out.next_token = EncodeSpanPageToken(fingerprint, {last.start_ns, last.trace_id, last.span_id});
  }
  out.count = found.size();
  // Consecutive spans of one resource and scope share them in the answer.
  otlp_trace::ResourceSpans* rs_out = nullptr;
  otlp_trace::ScopeSpans* ss_out = nullptr;
  const otlp_trace::ResourceSpans* rs_in = nullptr;
  const otlp_trace::ScopeSpans* ss_in = nullptr;
  for (const FoundSpan& f : found) {
    if (f.rs != rs_in) {
      rs_in = f.rs;
      ss_in = nullptr;
      rs_out = out.spans.add_resource_spans();
      *rs_out->mutable_resource() = f.rs->resource();
      rs_out->set_schema_url(f.rs->schema_url());
    }
    if (f.ss != ss_in) {
      ss_in = f.ss;
      ss_out = rs_out->add_scope_spans();
      *ss_out->mutable_scope() = f.ss->scope();
      ss_out->set_schema_url(f.ss->schema_url());
    }
    *ss_out->add_spans() = *f.span;
  }
  return out;
}

}  // namespace skua::query
