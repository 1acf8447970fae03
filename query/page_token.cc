// Page tokens: version 1 is 33 bytes — 0x01, the fingerprint (8 bytes big-endian), the cursor's
// start (8 bytes big-endian, two's complement) and trace ID (16 bytes).

#include "query/page_token.h"

#include <algorithm>

#include "common/hash.h"
#include "common/json_write.h"
#include "common/status_macros.h"

namespace skua::query {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kTokenBytes = 1 + 8 + 8 + 16;
constexpr uint8_t kSpanVersion = 2;
constexpr size_t kSpanTokenBytes = kTokenBytes + 8;

std::string UrlSafe(std::string token) {
  for (char& c : token) c = c == '+' ? '-' : (c == '/' ? '_' : c);
  token.erase(std::find(token.begin(), token.end(), '='), token.end());
  return token;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// A text part, preceded by its length so that no two sequences of parts run together.
void Part(std::string& out, std::string_view s) {
  PutU64(out, s.size());
  out.append(s);
}

absl::Status Refused(std::string_view why) {
  return absl::InvalidArgumentError(std::string("query.pagination.page_token: ") +
                                    std::string(why));
}

}  // namespace

uint64_t QueryFingerprint(const storage::TraceQuery& q) {
  std::string text;
  Part(text, q.tenant);
  Part(text, q.service);
  Part(text, q.operation);
  auto tags = q.tags;
  std::sort(tags.begin(), tags.end());
  PutU64(text, tags.size());
  for (const auto& [k, v] : tags) {
    Part(text, k);
    Part(text, v);
  }
  for (int64_t v : {q.start_min_ns, q.start_max_ns, q.duration_min_ns, q.duration_max_ns,
                    q.trace_duration_min_ns, q.trace_duration_max_ns}) {
    PutU64(text, static_cast<uint64_t>(v));
  }
  Part(text, q.filter ? q.filter->CanonicalString() : "");
  return common::StableHash64(text);
}

namespace {

// A token's bytes: version, fingerprint, start, trace ID, then `extra` (the span ID).
std::string Wrap(uint8_t version, uint64_t fingerprint, int64_t start_ns,
                 const common::TraceId& trace_id, std::string_view extra) {
  std::string raw;
  raw.push_back(static_cast<char>(version));
  PutU64(raw, fingerprint);
  PutU64(raw, static_cast<uint64_t>(start_ns));
  raw.append(trace_id.AsBytes());
  raw.append(extra);
  return UrlSafe(common::Base64Encode(raw));
}

// The bytes of a token of `version` and `size` minted for a query with `fingerprint`.
absl::StatusOr<std::string> Unwrap(std::string_view token, uint8_t version, size_t size,
                                   uint64_t fingerprint) {
  if (token.size() > 64) return Refused("not a page token of this server");
  auto raw = common::Base64Decode(token);
  if (!raw || raw->size() != size || static_cast<uint8_t>((*raw)[0]) != version) {
    return Refused(version == kSpanVersion ? "not a span page token of this server"
                                           : "not a page token of this server");
  }
  if (GetU64(std::string_view(*raw).substr(1)) != fingerprint) {
    return Refused("the token belongs to another query; start the search again without it");
  }
  return *raw;
}

}  // namespace

std::string EncodePageToken(uint64_t fingerprint, const storage::PageCursor& cursor) {
  return Wrap(kVersion, fingerprint, cursor.start_ns, cursor.trace_id, "");
}

absl::StatusOr<storage::PageCursor> DecodePageToken(std::string_view token, uint64_t fingerprint) {
  SKUA_ASSIGN_OR_RETURN(std::string raw, Unwrap(token, kVersion, kTokenBytes, fingerprint));
  std::string_view bytes(raw);
  return storage::PageCursor{static_cast<int64_t>(GetU64(bytes.substr(9))),
                             *common::TraceId::FromBytes(bytes.substr(17, 16))};
}

std::string EncodeSpanPageToken(uint64_t fingerprint, const SpanCursor& cursor) {
  return Wrap(kSpanVersion, fingerprint, cursor.start_ns, cursor.trace_id,
              cursor.span_id.size() == 8 ? cursor.span_id : std::string(8, '\0'));
}

absl::StatusOr<SpanCursor> DecodeSpanPageToken(std::string_view token, uint64_t fingerprint) {
  SKUA_ASSIGN_OR_RETURN(std::string raw, Unwrap(token, kSpanVersion, kSpanTokenBytes, fingerprint));
  std::string_view bytes(raw);
  return SpanCursor{static_cast<int64_t>(GetU64(bytes.substr(9))),
                    *common::TraceId::FromBytes(bytes.substr(17, 16)),
                    std::string(bytes.substr(33, 8))};
}

}  // namespace skua::query
