// A shard's start: the catalog rows of its partitions, its dependency counts, and the replay of
// the index log (the index entries of requests committed but not yet sealed into blocks,
// rebuilt from the stored spans).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <unordered_map>

#include "common/status_macros.h"
#include "storage/chunk.h"
#include "storage/coding.h"
#include "storage/keys.h"
#include "storage/rocks_options.h"
#include "storage/shard.h"

namespace skua::storage {
namespace {

absl::Status Malformed(int shard, uint64_t seq) {
  return absl::DataLossError(fmt::format("shard {}: malformed index log row {}", shard, seq));
}

}  // namespace

absl::Status Shard::Recover() {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  for (const auto& p : partitions_.All()) {
    std::unique_ptr<rocksdb::Iterator> c(db_->NewIterator(ro, p.cf.get()));
    for (c->Seek(std::string(1, kCatalogTag));
         c->Valid() && c->key().size() > 0 && c->key()[0] == kCatalogTag; c->Next()) {
      std::string key(c->key().data(), c->key().size());
      EditCatalog(p.tenant, key, true);
      catalog_rows_[p.name].insert(std::move(key));
    }
    if (!c->status().ok()) return FromRocks(c->status(), fmt::format("read catalog of {}", p.name));
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(std::string(1, kDependencyTag));
       it->Valid() && it->key().size() > 0 && it->key()[0] == kDependencyTag; it->Next()) {
    auto key = DecodeDependencyKey(std::string_view(it->key().data(), it->key().size()));
    if (!key || it->value().size() != 8) continue;
    open_index_.LoadDependency(key->tenant, key->bucket, key->parent, key->child,
                               DecodeBigEndian64(std::string_view(it->value().data(), 8)));
  }
  // Before the replay below adds to it: a row replaces what the catalog holds of its service.
  if (keeps_attribute_rows()) {
    for (it->Seek(std::string(1, kAttributeTag));
         it->Valid() && it->key().size() > 0 && it->key()[0] == kAttributeTag; it->Next()) {
      std::string_view key(it->key().data() + 1, it->key().size() - 1);
      absl::Status loaded =
          attributes_.Load(key, std::string_view(it->value().data(), it->value().size()));
      if (!loaded.ok()) Unreadable(fmt::format("attribute catalog row: {}", loaded.message()));
    }
  }
  size_t replayed = 0;
  for (it->Seek(std::string(1, kIndexLogTag));
       it->Valid() && it->key().size() == 9 && it->key()[0] == kIndexLogTag; it->Next()) {
    uint64_t seq = DecodeBigEndian64(std::string_view(it->key().data() + 1, 8));
    std::string_view log(it->value().data(), it->value().size());
    // A log row that cannot be read costs the search entries of its spans (still readable
    // by trace ID), never the start.
    if (log.size() < 8) {
      Unreadable(fmt::format("index log row {}", seq));
      continue;
    }
    auto arrival_ns = static_cast<int64_t>(DecodeBigEndian64(log));
    auto batch = Reindex(log.substr(8), seq);
    if (batch.status().code() == absl::StatusCode::kDataLoss) {
      Unreadable(common::Message(batch.status()));
      continue;
    }
    if (!batch.ok()) return batch.status();
    MaybeSeal(false, arrival_ns);
    open_index_.Apply({{&*batch, seq}}, arrival_ns);
    attributes_.Add(*batch, arrival_ns / 1'000'000'000);
    replayed += batch->entries.size();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "recover index");
  if (replayed > 0) {
    SPDLOG_INFO("shard {}: replayed {} unsealed index entries", id_, replayed);
  }
  return absl::OkStatus();
}

// Rebuilds the index entries of the request committed with `seq` from its chunks, given its
// index log row (per partition: name, trace IDs).
absl::StatusOr<IndexBatch> Shard::Reindex(std::string_view log, uint64_t seq) {
  IndexBatchBuilder builder;
  // Keeps the decoded messages alive while the builder holds pointers to them.
  std::deque<otlp::ResourceSpans> resources;
  std::deque<otlp::ScopeSpans> scopes;
  std::deque<otlp::Span> spans;
  auto parts = partitions_.All();
  std::string tenant;
  while (!log.empty()) {
    auto name_len = ReadVarint(log);
    if (!name_len || *name_len > log.size()) return Malformed(id_, seq);
    std::string name(log.substr(0, *name_len));
    log.remove_prefix(*name_len);
    auto n = ReadVarint(log);
    if (!n || *n * 16 > log.size()) return Malformed(id_, seq);
    std::string_view ids = log.substr(0, *n * 16);
    log.remove_prefix(*n * 16);
    auto part = std::find_if(parts.begin(), parts.end(),
                             [&](const Partition& p) { return p.name == name; });
    if (part == parts.end()) continue;  // dropped since
    tenant = part->tenant;              // one request is one tenant's
    std::unordered_map<uint64_t, const otlp::ResourceSpans*> resource_by_id;
    std::unordered_map<uint64_t, const otlp::ScopeSpans*> scope_by_id;
    for (size_t off = 0; off < ids.size(); off += 16) {
      auto id = common::TraceId::FromBytes(ids.substr(off, 16));
      std::string value;
      auto s = db_->Get(rocksdb::ReadOptions(), part->cf.get(), TraceChunkKey(*id, seq), &value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return FromRocks(s, "reindex: read chunk");
      struct Stored {
        uint64_t resource_id, scope_id;
        ChunkSpan span;
      };
      std::vector<Stored> stored;
      if (!ForEachChunkSpan(value, [&](uint64_t rid, uint64_t sid, const ChunkSpan& cs) {
            stored.push_back({rid, sid, cs});
          })) {
        Unreadable(fmt::format("trace chunk of {} (seq {}) in {}", common::FormatTraceId32(*id),
                               seq, name));
        continue;
      }
      // The resource or scope row `key` decoded into a new element of `rows` (cached in
      // `by_id`); nullptr if it cannot be decoded: an unreadable row costs the spans it
      // holds, never the rest of the replay.
      auto row = [&](auto& rows, auto& by_id, uint64_t row_id, const std::string& key)
          -> absl::StatusOr<const typename std::decay_t<decltype(rows)>::value_type*> {
        auto& slot = by_id[row_id];
        if (slot != nullptr) return slot;
        absl::Status read = ReadRowInto(*part, key, rows.emplace_back());
        if (read.code() == absl::StatusCode::kDataLoss) {
          Unreadable(common::Message(read));
          rows.pop_back();
          return nullptr;
        }
        SKUA_RETURN_IF_ERROR(read);
        slot = &rows.back();
        return slot;
      };
      for (const Stored& st : stored) {
        SKUA_ASSIGN_OR_RETURN(
            const otlp::ResourceSpans* rs,
            row(resources, resource_by_id, st.resource_id, ResourceKey(st.resource_id)));
        SKUA_ASSIGN_OR_RETURN(const otlp::ScopeSpans* ss,
                              row(scopes, scope_by_id, st.scope_id, ScopeKey(st.scope_id)));
        if (rs == nullptr || ss == nullptr) continue;
        if (!ParseChunkSpan(*id, st.span, &spans.emplace_back())) {
          spans.pop_back();
          Unreadable(fmt::format("a span of trace {} (seq {}) in {}", common::FormatTraceId32(*id),
                                 seq, name));
          continue;
        }
        builder.Add({rs, ss, &spans.back()});
      }
    }
  }
  IndexBatch batch = builder.Finish();
  batch.tenant = std::move(tenant);
  return batch;
}

}  // namespace skua::storage
