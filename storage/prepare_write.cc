// PrepareWrite: groups a request's spans by trace and by (resource, scope), and encodes one
// TraceChunk value per trace. The encoding is written by hand, field by field, to avoid copying
// each Span into a TraceChunk message; it is byte-compatible with skua.storage.TraceChunk.

#include <algorithm>
#include <unordered_map>

#include "common/hash.h"
#include "storage/index.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed64 = 1;

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void AppendTag(std::string& out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (field << 3) | wire_type);
}

void AppendFixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// Appends `span` encoded without trace_id (1), start_time_unix_nano (7) and end_time_unix_nano
// (8): the chunk keeps those once per row and as varints (proto/skua/storage.proto).
void AppendStoredSpan(std::string& out, const otlp::Span& span, std::string& scratch) {
  size_t n = span.ByteSizeLong();
  scratch.resize(n);
  span.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(scratch.data()));
  std::string_view in(scratch);
  auto read_varint = [&in](uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
      auto b = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  // Top-level fields, as protobuf wrote them; any surprise keeps the rest as it is (the reader
  // sets trace ID and times after parsing, so leftovers are harmless).
  size_t kept_from = 0;
  std::string body;
  body.reserve(n);
  while (!in.empty()) {
    size_t field_begin = n - in.size();
    uint64_t tag = 0, len = 0;
    bool ok = read_varint(tag);
    switch (tag & 7) {
      case 0:
        ok = ok && read_varint(len);
        break;
      case 1:
        ok = ok && in.size() >= 8 && (in.remove_prefix(8), true);
        break;
      case 2:
        ok = ok && read_varint(len) && in.size() >= len && (in.remove_prefix(len), true);
        break;
      case 5:
        ok = ok && in.size() >= 4 && (in.remove_prefix(4), true);
        break;
      default:
        ok = false;
    }
    if (!ok) break;
    uint64_t field = tag >> 3;
    if (field == 1 || field == 7 || field == 8) {
      body.append(scratch, kept_from, field_begin - kept_from);
      kept_from = n - in.size();
    }
  }
  body.append(scratch, kept_from, std::string::npos);
  AppendTag(out, 3, kLengthDelimited);
  AppendVarint(out, body.size());
  out.append(body);
}

void AppendPackedZigZag(std::string& out, uint32_t field, const std::vector<int64_t>& values) {
  if (values.empty()) return;
  std::string packed;
  for (int64_t v : values) AppendVarint(packed, ZigZag(v));
  AppendTag(out, field, kLengthDelimited);
  AppendVarint(out, packed.size());
  out.append(packed);
}

struct Group {
  uint64_t resource_id;
  uint64_t scope_id;
  std::vector<const otlp::Span*> spans;
};

struct TraceGroups {
  common::TraceId trace_id;
  int64_t retention_seconds;
  std::vector<Group> groups;
};

struct TraceKey {
  common::TraceId trace_id;
  int64_t retention_seconds;
  bool operator==(const TraceKey&) const = default;
};
struct TraceKeyHash {
  size_t operator()(const TraceKey& k) const {
    return common::TraceIdHash()(k.trace_id) ^ static_cast<size_t>(k.retention_seconds);
  }
};

}  // namespace

PreparedWrite PrepareWrite(std::span<const SpanRef> spans, const RetentionPolicy& retention) {
  PreparedWrite out;
  // Resource and scope ids, computed once per distinct message in the request.
  std::unordered_map<const void*, uint64_t> ids;
  auto id_of = [&](const void* key, auto make_row,
                   std::vector<std::pair<uint64_t, std::string>>& rows) {
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    std::string row = make_row();
    uint64_t id = common::StableHash64(row);
    ids.emplace(key, id);
    bool seen = false;
    for (const auto& r : rows) seen = seen || r.first == id;
    if (!seen) {
      out.bytes += row.size();
      rows.emplace_back(id, std::move(row));
    }
    return id;
  };

  IndexBatchBuilder index;
  std::vector<TraceGroups> traces;
  std::unordered_map<TraceKey, size_t, TraceKeyHash> trace_index;
  std::unordered_map<const void*, int64_t> retention_of;  // by resource
  for (const SpanRef& ref : spans) {
    uint64_t rid = id_of(
        ref.resource,
        [&] {
          otlp::ResourceSpans r;
          *r.mutable_resource() = ref.resource->resource();
          r.set_schema_url(ref.resource->schema_url());
          return r.SerializeAsString();
        },
        out.resources);
    uint64_t sid = id_of(
        ref.scope,
        [&] {
          otlp::ScopeSpans s;
          *s.mutable_scope() = ref.scope->scope();
          s.set_schema_url(ref.scope->schema_url());
          return s.SerializeAsString();
        },
        out.scopes);
    auto tid = common::TraceId::FromBytes(ref.span->trace_id());
    auto [rit, new_resource] = retention_of.try_emplace(ref.resource, 0);
    if (new_resource) rit->second = retention.For(ServiceNameOf(ref.resource->resource()));
    auto [it, inserted] = trace_index.try_emplace(TraceKey{*tid, rit->second}, traces.size());
    if (inserted) traces.push_back({*tid, rit->second, {}});
    auto& groups = traces[it->second].groups;
    if (groups.empty() || groups.back().resource_id != rid || groups.back().scope_id != sid) {
      groups.push_back({rid, sid, {}});
    }
    groups.back().spans.push_back(ref.span);
    index.Add(ref);
    ++out.span_count;
  }

  out.chunks.reserve(traces.size());
  std::string group_buf, scratch;
  std::vector<int64_t> start_deltas, durations;
  for (const auto& t : traces) {
    std::string value;
    start_deltas.clear();
    durations.clear();
    uint64_t prev_start = 0;
    for (const auto& g : t.groups) {
      group_buf.clear();
      AppendTag(group_buf, 1, kFixed64);
      AppendFixed64(group_buf, g.resource_id);
      AppendTag(group_buf, 2, kFixed64);
      AppendFixed64(group_buf, g.scope_id);
      for (const otlp::Span* span : g.spans) {
        AppendStoredSpan(group_buf, *span, scratch);
        uint64_t start = span->start_time_unix_nano();
        start_deltas.push_back(static_cast<int64_t>(start - prev_start));
        durations.push_back(static_cast<int64_t>(span->end_time_unix_nano() - start));
        prev_start = start;
      }
      AppendTag(value, 1, kLengthDelimited);
      AppendVarint(value, group_buf.size());
      value.append(group_buf);
    }
    AppendPackedZigZag(value, 2, start_deltas);
    AppendPackedZigZag(value, 3, durations);
    out.bytes += value.size();
    out.chunks.push_back({t.trace_id, t.retention_seconds, std::move(value)});
  }
  auto batch = std::make_shared<IndexBatch>(index.Finish());
  out.bytes += batch->ApproxBytes();
  out.index = std::move(batch);
  return out;
}

}  // namespace skua::storage
