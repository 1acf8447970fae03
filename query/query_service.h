// The query service: what every query API (v1 and api_v3 over HTTP, api_v2 and api_v3 over
// gRPC) asks of storage, with the rules they share — defaults, limits, deadlines, what "not
// found" is, and reading traces as Jaeger's storage would hold them. The adapters only parse
// their protocol's request, call this, and render the answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "config/config.h"
#include "storage/span_store.h"

namespace skua::query {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;

// Traces a search returns when it names no limit (Jaeger's storage default).
inline constexpr int kDefaultSearchLimit = 100;
// The time a v1 search covers when it names no start (Jaeger's UI default is shorter).
inline constexpr int64_t kDefaultSearchLookbackNanos = 48LL * 3600 * 1'000'000'000;
// The time a dependencies call covers when it names no lookback.
inline constexpr int64_t kDefaultDependencyLookbackNanos = 24LL * 3600 * 1'000'000'000;

// An operation's span kind as api_v3 reports it: Jaeger v2 reports an unspecified kind as
// "internal".
inline std::string_view V3SpanKind(const storage::Operation& op) {
  return op.span_kind.empty() ? std::string_view("internal") : std::string_view(op.span_kind);
}

// Every call names its tenant ("" without tenancy; searches in TraceQuery::tenant) and sees
// only that tenant's data.
//
// Thread-safe. Errors are storage's: kDeadlineExceeded when a search ran out of time (the
// adapters answer 504 / DEADLINE_EXCEEDED), anything else an internal failure whose text may
// name files of the data directory (the adapters log it and answer without it).
class QueryService {
 public:
  // `reader` and `clock` must outlive the service; `clock` supplies "now" for default windows
  // and deadlines.
  QueryService(storage::SpanReader& reader, config::QueryConfig config, common::Clock& clock);

  const config::QueryConfig& config() const { return config_; }

  // The number of traces a search asks for (v1 `limit`, api_v3 `search_depth`, api_v2
  // `num_traces`): the default if not positive, at most query.max_limit.
  int SearchLimit(int64_t requested) const;

  struct Window {
    int64_t start_ns = 0, end_ns = 0;
  };
  // A v1 search's time range: up to `end_ns` (default now), from `start_ns` (default 48 h
  // before the end).
  Window SearchWindow(std::optional<int64_t> start_ns, std::optional<int64_t> end_ns) const;
  // A dependencies call's range: `lookback_ns` (default 24 h) up to `end_ns` (default now).
  Window DependencyWindow(std::optional<int64_t> end_ns, std::optional<int64_t> lookback_ns) const;

  // How traces are returned: as stored (raw), or with Jaeger's query adjusters for OTLP
  // answers (api_v3). Answers in Jaeger's span model apply theirs while converting.
  enum class Adjust { kRaw, kOtlp };

  // The trace, or nullopt if nothing of it is stored.
  absl::StatusOr<std::optional<otlp_trace::TracesData>> GetTrace(const std::string& tenant,
                                                                 const common::TraceId& id,
                                                                 Adjust adjust);

  // Every service with stored spans, sorted.
  std::vector<std::string> Services(const std::string& tenant);
  // The operations of `service` (none for ""), sorted by name then kind; `span_kind` non-empty
  // keeps that kind only.
  std::vector<storage::Operation> Operations(const std::string& tenant, const std::string& service,
                                             const std::string& span_kind);
  // Autocomplete: attribute keys, or one key's values, most frequent first, at most
  // query.limit (SearchLimit's rules; callers set it).
  std::vector<storage::AttributeKeyCount> AttributeKeys(const storage::AttributeQuery& query) {
    return reader_.AttributeKeys(query);
  }
  storage::AttributeValues AttributeValues(const storage::AttributeQuery& query) {
    return reader_.AttributeValuesOf(query);
  }
  // Calls between services in `window`; `service` non-empty keeps the links it is part of.
  std::vector<storage::DependencyLink> Dependencies(const std::string& tenant, Window window,
                                                    std::string_view service);

  // Pagination (Jaeger RFC 0014). A page is at most `size` traces (at most query.max_limit) in
  // the search's order; `token` ("" for the first page) is what the previous page returned. The
  // token binds the page to its query: it holds a fingerprint of everything the search matches
  // by (not the page size), and the position of the previous page's last trace.
  struct Paging {
    uint32_t size = 0;       // 0: not a paginated search
    std::string next_token;  // set by the search: the next page's token, "" after the last
  };
  // Readies `query` for a page: its limit and, with a token, the position after which it
  // starts. Errors: kInvalidArgument (size 0; a token this server did not mint for this query).
  absl::Status ToPage(storage::TraceQuery& query, uint32_t size, std::string_view token) const;

  // A search whose answer is built whole (HTTP): the traces found, newest first, until their
  // span data passes query.max_response_bytes — then `cut` is set and the rest left out.
  struct Found {
    std::vector<otlp_trace::TracesData> traces;
    size_t matched = 0;  // traces the search found
    bool cut = false;
  };
  // Runs `query` with its deadline query.timeout from now. With `paging` (after ToPage), the
  // answer is that page and paging->next_token is set.
  absl::StatusOr<Found> FindTraces(storage::TraceQuery query, Adjust adjust,
                                   Paging* paging = nullptr);

  // A search whose answer is streamed (gRPC): calls send(trace) for each trace found, newest
  // first, until send returns false. The deadline is query.timeout or `budget` from now,
  // whichever comes first.
  absl::Status StreamTraces(storage::TraceQuery query, std::chrono::milliseconds budget,
                            Adjust adjust, const std::function<bool(otlp_trace::TracesData&)>& send,
                            Paging* paging = nullptr);

  // A search's hits only (trace IDs, newest first), for callers that read the traces later.
  // The deadline is as StreamTraces'.
  absl::StatusOr<std::vector<storage::TraceHit>> FindTraceIds(storage::TraceQuery query,
                                                              std::chrono::milliseconds budget,
                                                              Paging* paging = nullptr);

  // Span search (Jaeger RFC 0016): the spans of `tenant` that started in [start_min_ns,
  // start_max_ns] and satisfy `filter` (null: every span), newest first (ties by trace ID, then
  // span ID), one page of at most `page_size` (at most query.max_limit) after `token`. Each span
  // comes with its resource and scope; spans of many traces share one TracesData.
  struct SpanPage {
    otlp_trace::TracesData spans;
    size_t count = 0;
    std::string next_token;  // "" after the last page
  };
  absl::StatusOr<SpanPage> FindSpans(const std::string& tenant, int64_t start_min_ns,
                                     int64_t start_max_ns,
                                     std::shared_ptr<const filter::Filter> filter,
                                     uint32_t page_size, std::string_view token);

  // What the answer says when FindTraces cut it.
  std::string CutMessage(const Found& found) const;

 private:
  // The deadline of a search (ns since the epoch): query.timeout or `budget` from now, whichever
  // comes first.
  int64_t DeadlineWithin(std::chrono::milliseconds budget) const;
  // Cuts the hits of a page search (ToPage asked for one more than the page) to the page, and
  // sets paging->next_token.
  void CutPage(const storage::TraceQuery& query, std::vector<storage::TraceHit>& hits,
               Paging* paging) const;
  // Calls fn(trace) for each hit's trace, in order — as the search read it, or read now; a trace
  // gone since the search is skipped — until fn returns false or the deadline passes.
  absl::Status ForEachHitTrace(const storage::TraceQuery& query,
                               std::vector<storage::TraceHit>& hits,
                               const std::function<bool(otlp_trace::TracesData&)>& fn);
  // The trace as Jaeger's storage would hold it (SanitizeAsJaegerIngest), before adjusting.
  absl::StatusOr<std::optional<otlp_trace::TracesData>> ReadTrace(const std::string& tenant,
                                                                  const common::TraceId& id);

  storage::SpanReader& reader_;
  const config::QueryConfig config_;
  common::Clock& clock_;
};

}  // namespace skua::query
