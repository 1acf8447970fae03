// PrepareWrite: groups a request's spans by trace and by (resource, scope), and encodes one
// TraceChunk value per trace (storage/chunk.h) and the resource and scope rows.

#include <unordered_map>
#include <utility>

#include "common/hash.h"
#include "model/values.h"
#include "storage/chunk.h"
#include "storage/index.h"
#include "storage/keys.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

using Group = ChunkEncoder::Group;  // the spans of one trace under one resource and scope

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

PreparedWrite PrepareWrite(std::string_view tenant, std::span<const SpanRef> spans,
                           const RetentionPolicy& retention) {
  return PrepareWrite(tenant, spans, retention, IndexBatchBuilder(tenant, nullptr));
}

PreparedWrite PrepareWrite(std::string_view tenant, std::span<const SpanRef> spans,
                           const RetentionPolicy& retention, IndexBatchBuilder index) {
  PreparedWrite out;
  out.tenant = std::string(tenant);
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
    if (new_resource) {
      rit->second = retention.For(tenant, model::ServiceNameOf(ref.resource->resource()));
    }
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
  ChunkEncoder encoder;
  for (const auto& t : traces) {
    std::string value = encoder.Encode(t.groups);
    out.bytes += value.size();
    out.chunks.push_back({t.trace_id, t.retention_seconds, std::move(value)});
  }
  auto batch = std::make_shared<IndexBatch>(index.Finish());
  batch->tenant = out.tenant;
  out.bytes += batch->ApproxBytes();
  out.index = std::move(batch);
  return out;
}

}  // namespace skua::storage
