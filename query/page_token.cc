// Page tokens: version 1 is 33 bytes — 0x01, the fingerprint (8 bytes big-endian), the cursor's
// start (8 bytes big-endian, two's complement) and trace ID (16 bytes).

#include "query/page_token.h"

#include <algorithm>

#include "common/hash.h"
#include "common/json_write.h"

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

// Parts separated by a byte no text part holds where it matters: lengths go first.
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

std::string EncodePageToken(uint64_t fingerprint, const storage::PageCursor& cursor) {
  std::string raw;
  raw.push_back(static_cast<char>(kVersion));
  PutU64(raw, fingerprint);
  PutU64(raw, static_cast<uint64_t>(cursor.start_ns));
  raw.append(cursor.trace_id.AsBytes());
  return UrlSafe(common::Base64Encode(raw));
}

absl::StatusOr<storage::PageCursor> DecodePageToken(std::string_view token, uint64_t fingerprint) {
  if (token.size() > 64) return Refused("not a page token of this server");
  auto raw = common::Base64Decode(token);
  if (!raw || raw->size() != kTokenBytes || static_cast<uint8_t>((*raw)[0]) != kVersion) {
    return Refused("not a page token of this server");
  }
  std::string_view bytes(*raw);
  if (GetU64(bytes.substr(1)) != fingerprint) {
    return Refused("the token belongs to another query; start the search again without it");
  }
  storage::PageCursor cursor;
  cursor.start_ns = static_cast<int64_t>(GetU64(bytes.substr(9)));
  auto id = common::TraceId::FromBytes(bytes.substr(17));
  if (!id) return Refused("not a page token of this server");
  cursor.trace_id = *id;
  return cursor;
}

std::string EncodeSpanPageToken(uint64_t fingerprint, const SpanCursor& cursor) {
  std::string raw;
  raw.push_back(static_cast<char>(kSpanVersion));
  PutU64(raw, fingerprint);
  PutU64(raw, static_cast<uint64_t>(cursor.start_ns));
  raw.append(cursor.trace_id.AsBytes());
  raw.append(cursor.span_id.size() == 8 ? cursor.span_id : std::string(8, '\0'));
  return UrlSafe(common::Base64Encode(raw));
}

absl::StatusOr<SpanCursor> DecodeSpanPageToken(std::string_view token, uint64_t fingerprint) {
  if (token.size() > 64) return Refused("not a page token of this server");
  auto raw = common::Base64Decode(token);
  if (!raw || raw->size() != kSpanTokenBytes || static_cast<uint8_t>((*raw)[0]) != kSpanVersion) {
    return Refused("not a span page token of this server");
  }
  std::string_view bytes(*raw);
  if (GetU64(bytes.substr(1)) != fingerprint) {
    return Refused("the token belongs to another query; start the search again without it");
  }
  SpanCursor cursor;
  cursor.start_ns = static_cast<int64_t>(GetU64(bytes.substr(9)));
  cursor.trace_id = *common::TraceId::FromBytes(bytes.substr(17, 16));
  cursor.span_id = std::string(bytes.substr(33, 8));
  return cursor;
}

}  // namespace skua::query
