// Reading a shard: every stored span of a trace by its ID, and the resource and scope rows the
// spans refer to.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "common/hash.h"
#include "model/values.h"
#include "storage/chunk.h"
#include "storage/keys.h"
#include "storage/rocks_options.h"
#include "storage/shard.h"

namespace skua::storage {

absl::StatusOr<std::optional<otlp::TracesData>> Shard::GetTrace(const std::string& tenant,
                                                                const common::TraceId& id) {
  std::string prefix = TracePrefix(id);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;

  struct GroupKey {
    uint64_t resource_id, scope_id;
    bool operator==(const GroupKey&) const = default;
  };
  struct GroupKeyHash {
    size_t operator()(const GroupKey& k) const { return k.resource_id * 31 ^ k.scope_id; }
  };
  struct Group {
    GroupKey key;
    const Partition* part;  // where its resource and scope rows are
    std::vector<ChunkSpan> spans;
  };
  struct SpanKeyHash {
    size_t operator()(const ChunkSpan& s) const {
      return std::hash<std::string_view>()(s.bytes) ^ (s.start * 0x9e3779b97f4a7c15ULL) ^ s.end ^
             (std::hash<std::string_view>()(s.parent) << 1);
    }
  };
  struct SpanKeyEq {
    bool operator()(const ChunkSpan& a, const ChunkSpan& b) const {
      return a.start == b.start && a.end == b.end && a.bytes == b.bytes && a.parent == b.parent;
    }
  };
  // Groups in first-seen order; spans deduplicated by exact encoding, times and parent. The
  // chunks are walked at the wire level, so each span is decoded once, straight into the answer.
  std::vector<Group> groups;
  int unreadable = 0;  // chunks, resource/scope rows' spans and spans left out
  std::unordered_map<GroupKey, size_t, GroupKeyHash> group_index;
  std::unordered_set<ChunkSpan, SpanKeyHash, SpanKeyEq> seen_spans;
  std::deque<std::string> values;  // keeps the span bytes alive
  auto parts = LivePartitions(tenant);
  for (const auto& part : parts) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, part.cf.get()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string_view chunk = values.emplace_back(it->value().data(), it->value().size());
      bool ok = ForEachChunkSpan(
          chunk, [&](uint64_t resource_id, uint64_t scope_id, const ChunkSpan& span) {
            GroupKey key{resource_id, scope_id};
            auto [gi, inserted] = group_index.try_emplace(key, groups.size());
            if (inserted) groups.push_back({key, &part, {}});
            if (seen_spans.insert(span).second) groups[gi->second].spans.push_back(span);
          });
      if (!ok) {
        Unreadable(fmt::format(
            "trace chunk {} in {}",
            common::HexEncode(std::string_view(it->key().data(), it->key().size())), part.name));
        ++unreadable;
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read trace");
  }

  otlp::TracesData out;
  std::unordered_map<uint64_t, otlp::ResourceSpans*> by_resource;
  int spans = 0;
  for (auto& g : groups) {
    otlp::ResourceSpans*& rs = by_resource[g.key.resource_id];
    if (rs == nullptr) {
      otlp::ResourceSpans resource;
      absl::Status st = ReadRowInto(*g.part, ResourceKey(g.key.resource_id), resource);
      if (!st.ok()) {
        if (st.code() != absl::StatusCode::kDataLoss) return st;
        Unreadable(common::Message(st));
        unreadable += static_cast<int>(g.spans.size());
        continue;
      }
      rs = out.add_resource_spans();
      *rs = std::move(resource);
    }
    otlp::ScopeSpans scope;
    if (absl::Status st = ReadRowInto(*g.part, ScopeKey(g.key.scope_id), scope); !st.ok()) {
      if (st.code() != absl::StatusCode::kDataLoss) return st;
      Unreadable(common::Message(st));
      unreadable += static_cast<int>(g.spans.size());
      continue;
    }
    otlp::ScopeSpans* ss = rs->add_scope_spans();
    *ss = std::move(scope);
    for (const ChunkSpan& cs : g.spans) {
      if (!ParseChunkSpan(id, cs, ss->add_spans())) {
        ss->mutable_spans()->RemoveLast();
        Unreadable(fmt::format("a span of trace {}", common::FormatTraceId32(id)));
        ++unreadable;
      } else {
        ++spans;
      }
    }
  }
  if (spans == 0) return std::nullopt;
  if (unreadable > 0) {
    // Scopes and resources whose every span was left out are not part of the answer.
    auto& resources = *out.mutable_resource_spans();
    for (int r = resources.size() - 1; r >= 0; --r) {
      auto& scopes = *resources[r].mutable_scope_spans();
      for (int i = scopes.size() - 1; i >= 0; --i) {
        if (scopes[i].spans_size() == 0) scopes.DeleteSubrange(i, 1);
      }
      if (scopes.empty()) resources.DeleteSubrange(r, 1);
    }
    // Said where every API shows it: Jaeger's span warnings (v1 `warnings`, OTLP attribute).
    otlp::Span* first = nullptr;
    for (auto& rs : *out.mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        if (first == nullptr && ss.spans_size() > 0) first = ss.mutable_spans(0);
      }
    }
    model::AddWarning(*first,
                      fmt::format("{} stored part(s) of this trace could not be decoded and are "
                                  "left out",
                                  unreadable));
  }
  return out;
}

// A resource or scope row decoded into `out`.
absl::Status Shard::ReadRowInto(const Partition& part, const std::string& key,
                                google::protobuf::MessageLite& out) {
  auto row = ReadRow(part, key);
  if (!row.ok()) return row.status();
  if (!out.ParseFromString(*row)) {
    return absl::DataLossError(
        fmt::format("undecodable row {} in partition {}", common::HexEncode(key), part.name));
  }
  return absl::OkStatus();
}

// A resource or scope row of a partition, through a small cache (rows are immutable).
absl::StatusOr<std::string> Shard::ReadRow(const Partition& part, const std::string& key) {
  std::string cache_key = part.name + key;
  if (auto cached = row_cache_.Find(cache_key)) return *std::move(cached);
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), part.cf.get(), key, &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        fmt::format("missing row {} in partition {}", common::HexEncode(key), part.name));
  }
  if (!s.ok()) return FromRocks(s, "read row");
  row_cache_.Insert(std::move(cache_key), value);
  return value;
}

}  // namespace skua::storage
