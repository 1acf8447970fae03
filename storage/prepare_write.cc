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
  std::string group_buf;
  for (const auto& t : traces) {
    std::string value;
    for (const auto& g : t.groups) {
      group_buf.clear();
      AppendTag(group_buf, 1, kFixed64);
      AppendFixed64(group_buf, g.resource_id);
      AppendTag(group_buf, 2, kFixed64);
      AppendFixed64(group_buf, g.scope_id);
      for (const otlp::Span* span : g.spans) {
        size_t n = span->ByteSizeLong();
        AppendTag(group_buf, 3, kLengthDelimited);
        AppendVarint(group_buf, n);
        size_t at = group_buf.size();
        group_buf.resize(at + n);
        span->SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(group_buf.data() + at));
      }
      AppendTag(value, 1, kLengthDelimited);
      AppendVarint(value, group_buf.size());
      value.append(group_buf);
    }
    out.bytes += value.size();
    out.chunks.push_back({t.trace_id, t.retention_seconds, std::move(value)});
  }
  auto batch = std::make_shared<IndexBatch>(index.Finish());
  out.bytes += batch->ApproxBytes();
  out.index = std::move(batch);
  return out;
}

}  // namespace skua::storage
