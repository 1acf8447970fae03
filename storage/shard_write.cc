// Writing a shard: committing prepared requests in one atomic batch, then making their index
// entries searchable; sealing the open index blocks into rows.

#include <fmt/format.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "common/hash.h"
#include "storage/coding.h"
#include "storage/keys.h"
#include "storage/rocks_options.h"
#include "storage/shard.h"

namespace skua::storage {
namespace {

// Bound on the per-shard memo of resource/scope ids already written. Past it the set is simply
// cleared: the cost is a few redundant identical Puts, never a wrong answer.
constexpr size_t kMaxKnownIds = 1 << 16;
// Open index blocks are sealed once their oldest entry has waited this long (at most).
constexpr int64_t kSealAgeNanos = 30'000'000'000;

}  // namespace

absl::Status Shard::Commit(std::span<const PreparedWrite* const> writes, bool sync) {
  // After a failed write RocksDB must be resumed (Maintain does) before it takes another.
  if (absl::Status h = health_.Get(); !h.ok()) {
    if (!Resume()) return h;
  }
  if (absl::Status space = CheckFreeSpace(); !space.ok()) {
    health_.Set(space);
    return space;
  }
  int64_t now_ns = clock_.NowNanos();
  int64_t now_s = now_ns / 1'000'000'000;
  rocksdb::WriteBatch batch;
  std::vector<std::pair<std::string, uint64_t>>
      new_rows;  // (partition + tag, id) to forget on failure
  std::vector<std::pair<const IndexBatch*, uint64_t>> indexes;
  std::vector<std::pair<std::string, std::string>> new_catalog;  // (partition, key)
  std::vector<std::string> new_catalog_tenants;                  // of each new_catalog entry
  // By tenant and retention, for this commit.
  std::map<std::pair<std::string, int64_t>, Partition> partitions;
  auto partition_for = [&](const std::string& tenant,
                           int64_t retention_s) -> absl::StatusOr<const Partition*> {
    auto found = partitions.find({tenant, retention_s});
    if (found == partitions.end()) {
      auto p = partitions_.GetOrCreate(tenant, retention_s, now_s);
      if (!p.ok()) return p.status();
      found = partitions.emplace(std::make_pair(tenant, retention_s), std::move(*p)).first;
    }
    return &found->second;
  };
  size_t spans = 0;
  uint64_t first_seq = next_seq_;
  // Nothing of this commit was written: forget what it would have written, so a later batch
  // writes it.
  auto rollback = [&] {
    for (const auto& [set, id] : new_rows) known_rows_[set].erase(id);
    for (const auto& [part, key] : new_catalog) catalog_rows_[part].erase(key);
    next_seq_ = first_seq;
  };
  for (const PreparedWrite* w : writes) {
    uint64_t seq = next_seq_++;
    // The index log row: per partition, the traces this request wrote there, to rebuild their
    // index entries from the chunks after a restart if they are not sealed by then.
    std::map<std::string, std::string> traces_by_partition;
    std::set<std::string> rows_written_to;
    for (const auto& c : w->chunks) {
      auto found = partition_for(w->tenant, c.retention_seconds);
      if (!found.ok()) {
        rollback();
        return found.status();
      }
      const Partition* part = *found;
      rocksdb::ColumnFamilyHandle* cf = part->cf.get();
      batch.Put(cf, TraceChunkKey(c.trace_id, seq), c.value);
      traces_by_partition[part->name].append(c.trace_id.AsBytes());
      if (rows_written_to.insert(part->name).second) {
        // The request's resource and scope rows go with its chunks, once per partition.
        for (const auto& [tag, rows] :
             {std::pair{kResourceTag, &w->resources}, std::pair{kScopeTag, &w->scopes}}) {
          auto& known = known_rows_[part->name + tag];
          for (const auto& [id, value] : *rows) {
            if (known.insert(id).second) {
              new_rows.emplace_back(part->name + tag, id);
              batch.Put(cf, tag == kResourceTag ? ResourceKey(id) : ScopeKey(id), value);
            }
          }
        }
      }
    }
    std::string log;
    AppendBigEndian64(log, static_cast<uint64_t>(now_ns));
    for (const auto& [name, ids] : traces_by_partition) {
      AppendVarint(log, name.size());
      log += name;
      AppendVarint(log, ids.size() / 16);
      log += ids;
    }
    batch.Put(IndexLogKey(seq), log);
    const IndexBatch& index = *w->index;
    // Catalog rows go to the partition holding the service's spans, and go with it.
    for (const auto& c : index.catalog) {
      const std::string& service = index.strings[c.service];
      auto found = partition_for(w->tenant, retention_->For(w->tenant, service));
      if (!found.ok()) {
        rollback();
        return found.status();
      }
      std::string key = CatalogKey(service, index.strings[c.operation], c.kind);
      if (catalog_rows_[(*found)->name].insert(key).second) {
        batch.Put((*found)->cf.get(), key, "");
        new_catalog.emplace_back((*found)->name, std::move(key));
        new_catalog_tenants.push_back(w->tenant);
      }
    }
    indexes.emplace_back(&index, seq);
    spans += w->span_count;
  }
  std::string seq_value;
  AppendBigEndian64(seq_value, next_seq_ - 1);
  batch.Put(SeqKey(), seq_value);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) {
    rollback();
    absl::Status st =
        FromRocks(s, fmt::format("write batch ({} spans, {} requests)", spans, writes.size()));
    health_.Set(st);
    return st;
  }
  rows_written_.fetch_add(batch.Count(), std::memory_order_relaxed);
  for (auto& [name, known] : known_rows_) {
    if (known.size() > kMaxKnownIds) known.clear();
  }
  // Open blocks never span two time partitions: entries of a new period start new blocks.
  MaybeSeal(false, now_ns);
  open_index_.Apply(indexes, now_ns);
  for (const auto& [index, seq] : indexes) attributes_.Add(*index, now_s);
  for (size_t i = 0; i < new_catalog.size(); ++i) {
    EditCatalog(new_catalog_tenants[i], new_catalog[i].second, true);
  }
  MaybeSeal(false, now_ns);
  if (now_s != last_maintain_s_) Maintain();
  return absl::OkStatus();
}

// Seals every open block if due (OpenIndex::SealIfDue) or `force`d. Blocks go to the partition
// of their oldest entry's arrival, so they never outlive the spans they point to.
void Shard::MaybeSeal(bool force, int64_t now_ns) {
  auto sealing = open_index_.SealIfDue(force, now_ns, seal_policy_);
  if (!sealing) return;
  if (!health_.Get().ok()) return;  // nothing can be written until resumed
  rocksdb::WriteBatch batch;
  int64_t now_s = now_ns / 1'000'000'000;
  int64_t arrival_s = sealing->oldest_arrival_s;
  for (const auto& b : sealing->blocks) {
    int64_t retention_s = retention_->For(b.tenant, b.service);
    int64_t width = PartitionWidthSeconds(retention_s);
    if (arrival_s - arrival_s % width + width <= now_s - retention_s) continue;  // expired
    auto part = partitions_.GetOrCreate(b.tenant, retention_s, arrival_s);
    if (!part.ok()) {
      SPDLOG_WARN("shard {}: seal index blocks: {}", id_, part.status().message());
      return;
    }
    std::string key = BlockKey(common::StableHash64(b.service), b.max_start, sealing->through_seq);
    batch.Put(part->index_cf.get(), FilterKeyOf(key), b.rows.filter);
    batch.Put(part->index_cf.get(), key, b.rows.block);
  }
  for (const auto& [key, value] : sealing->dependency_rows) batch.Put(key, value);
  batch.DeleteRange(IndexLogKey(0), IndexLogKey(sealing->through_seq + 1));
  std::string v;
  AppendBigEndian64(v, sealing->through_seq);
  batch.Put(SealedSeqKey(), v);
  auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    // Keep the blocks open; the index log still covers them. Retried at the next chance.
    SPDLOG_WARN("shard {}: seal index blocks: {}", id_, s.ToString());
    return;
  }
  rows_written_.fetch_add(batch.Count(), std::memory_order_relaxed);
  open_index_.Sealed();
}

// Index blocks are sealed after 30 s, or sooner for short retentions: an entry waits at most
// one partition width in memory. Blocks never span two periods of any partition width.
OpenIndex::SealPolicy Shard::SealPolicyFor(const RetentionPolicy& retention) {
  OpenIndex::SealPolicy p;
  int64_t min_retention = retention.default_seconds;
  for (int64_t r : retention.All()) {
    p.widths.insert(PartitionWidthSeconds(r));
    min_retention = std::min(min_retention, r);
  }
  p.max_age_ns =
      std::min<int64_t>(kSealAgeNanos, PartitionWidthSeconds(min_retention) * 1'000'000'000LL);
  return p;
}

// Unavailable while the data filesystem has less free space than the configured minimum.
absl::Status Shard::CheckFreeSpace() const {
  if (limits_.min_free_disk_bytes == 0) return absl::OkStatus();
  struct statvfs st;
  if (statvfs(dir_.c_str(), &st) != 0) return absl::OkStatus();
  uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (free >= limits_.min_free_disk_bytes) return absl::OkStatus();
  return absl::UnavailableError(
      fmt::format("disk nearly full: {} bytes free, storage.min_free_disk_bytes is {}", free,
                  limits_.min_free_disk_bytes));
}

// Makes writes possible again after a failure, at most once a second: once there is free
// space, asks RocksDB to recover. True if writes work again.
bool Shard::Resume() {
  int64_t now_s = clock_.NowNanos() / 1'000'000'000;
  if (now_s == last_resume_s_) return false;
  last_resume_s_ = now_s;
  if (!CheckFreeSpace().ok() || !db_->Resume().ok()) return false;
  SPDLOG_INFO("shard {}: writes resumed", id_);
  health_.Set(absl::OkStatus());
  return true;
}

}  // namespace skua::storage
