// Page tokens of paginated searches (Jaeger RFC 0014): opaque to clients, stateless for the
// server. A token holds a fingerprint of the query it was minted for and the position (newest
// matching start, trace ID) of the last trace of its page, so any Skua holding the same data
// can continue the search, and a token presented with another query is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/span_store.h"

namespace skua::query {

// What a search matches by — tenant, service, operation, tags (in any order), time and
// duration bounds, trace duration bounds, the filter (in a canonical form, so that operands of
// `and`/`or` and list values in another order give the same fingerprint) — and not its limit,
// cursor or deadline.
uint64_t QueryFingerprint(const storage::TraceQuery& query);

// URL-safe base64 without padding of: a format version, the fingerprint, the cursor.
std::string EncodePageToken(uint64_t fingerprint, const storage::PageCursor& cursor);

// The cursor of a token minted for a query with this fingerprint. Errors: kInvalidArgument,
// "query.pagination.page_token: …" (not a token; another query's token).
absl::StatusOr<storage::PageCursor> DecodePageToken(std::string_view token, uint64_t fingerprint);

// A span search's position (Jaeger RFC 0016: start descending, then trace ID and span ID
// ascending) and its token (format version 2, with the span ID).
struct SpanCursor {
  int64_t start_ns = 0;
  common::TraceId trace_id;
  std::string span_id;  // 8 bytes
};
std::string EncodeSpanPageToken(uint64_t fingerprint, const SpanCursor& cursor);
absl::StatusOr<SpanCursor> DecodeSpanPageToken(std::string_view token, uint64_t fingerprint);

}  // namespace skua::query
