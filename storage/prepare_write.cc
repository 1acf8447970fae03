// PrepareWrite: groups a request's spans by trace and by (resource, scope), and encodes one
// TraceChunk value per trace. The encoding is written by hand, field by field, to avoid copying
// each Span into a TraceChunk message; it is byte-compatible with skua.storage.TraceChunk.

#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <bit>
#include <unordered_map>
#include <utility>

#include "common/hash.h"
#include "storage/index.h"
#include "storage/keys.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"
#include "storage/wire.h"

namespace skua::storage {
namespace {

constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed64 = 1;

void AppendTag(std::string& out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (field << 3) | wire_type);
}

void AppendFixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Fields of a stored span that the chunk keeps elsewhere (proto/skua/storage.proto): trace_id,
// parent_span_id, start_time_unix_nano and end_time_unix_nano.
bool KeptByChunk(int field) { return field == 1 || field == 4 || field == 7 || field == 8; }

// Appends `span` as field 3 of a SpanGroup, encoded without the fields KeptByChunk.
void AppendStoredSpan(std::string& out, const otlp::Span& span, std::string& scratch) {
  size_t n = span.ByteSizeLong();
  scratch.resize(n);
  span.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(scratch.data()));
  size_t removed = 0;
  ForEachField(scratch, [&](int field, size_t begin, size_t end) {
    if (KeptByChunk(field)) removed += end - begin;
    return true;
  });
  AppendTag(out, 3, kLengthDelimited);
  AppendVarint(out, n - removed);
  size_t kept_from = 0;
  ForEachField(scratch, [&](int field, size_t begin, size_t end) {
    if (KeptByChunk(field)) {
      out.append(scratch, kept_from, begin - kept_from);
      kept_from = end;
    }
    return true;
  });
  out.append(scratch, kept_from, std::string::npos);
}

void AppendPacked(std::string& out, uint32_t field, const std::vector<uint64_t>& values) {
  if (values.empty()) return;
  size_t bytes = 0;
  for (uint64_t v : values) bytes += (std::bit_width(v | 1) + 6) / 7;  // the varint's length
  AppendTag(out, field, kLengthDelimited);
  AppendVarint(out, bytes);
  for (uint64_t v : values) AppendVarint(out, v);
}

uint64_t ZigZag(int64_t v) { return google::protobuf::internal::WireFormatLite::ZigZagEncode64(v); }

// Scratch space of AppendParents, reused from chunk to chunk.
struct ParentScratch {
  std::vector<std::pair<std::string_view, uint64_t>> by_id;
  std::vector<uint64_t> parents;
  std::string external;
};

// Appends TraceChunk.parents and external_parents for the spans of one chunk, in chunk order.
void AppendParents(std::string& out, const std::vector<const otlp::Span*>& spans,
                   ParentScratch& scratch) {
  auto& by_id = scratch.by_id;
  by_id.clear();
  for (size_t i = 0; i < spans.size(); ++i) by_id.emplace_back(spans[i]->span_id(), i + 2);
  std::sort(by_id.begin(), by_id.end());  // equal IDs: the first span first
  auto& parents = scratch.parents;
  parents.assign(spans.size(), 0);
  auto& external = scratch.external;
  external.clear();
  bool any = false;
  for (size_t i = 0; i < spans.size(); ++i) {
    std::string_view parent = spans[i]->parent_span_id();
    if (parent.empty()) continue;
    any = true;
    auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(parent, uint64_t{0}));
    if (it != by_id.end() && it->first == parent) {
      parents[i] = it->second;
    } else {
      parents[i] = 1;
      AppendTag(external, 5, kLengthDelimited);
      AppendVarint(external, parent.size());
      external.append(parent);
    }
  }
  if (!any) return;
  AppendPacked(out, 4, parents);
  out.append(external);
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
  std::vector<uint64_t> start_deltas, durations;
  std::vector<const otlp::Span*> chunk_spans;
  ParentScratch parent_scratch;
  for (const auto& t : traces) {
    std::string value;
    start_deltas.clear();
    durations.clear();
    chunk_spans.clear();
    for (const auto& g : t.groups)
      chunk_spans.insert(chunk_spans.end(), g.spans.begin(), g.spans.end());
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
        start_deltas.push_back(ZigZag(static_cast<int64_t>(start - prev_start)));
        durations.push_back(ZigZag(static_cast<int64_t>(span->end_time_unix_nano() - start)));
        prev_start = start;
      }
      AppendTag(value, 1, kLengthDelimited);
      AppendVarint(value, group_buf.size());
      value.append(group_buf);
    }
    AppendPacked(value, 2, start_deltas);
    AppendPacked(value, 3, durations);
    AppendParents(value, chunk_spans, parent_scratch);
    out.bytes += value.size();
    out.chunks.push_back({t.trace_id, t.retention_seconds, std::move(value)});
  }
  auto batch = std::make_shared<IndexBatch>(index.Finish());
  out.bytes += batch->ApproxBytes();
  out.index = std::move(batch);
  return out;
}

}  // namespace skua::storage
