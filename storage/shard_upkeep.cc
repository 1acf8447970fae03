// A shard's upkeep, done by its writer thread between commits: retention (dropping expired
// partitions and dependency counts), the disk cap, and finishing closed partitions (merging
// their index blocks, then handing them to the compactor thread).

#include <fmt/format.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "common/status_macros.h"
#include "storage/coding.h"
#include "storage/dependency_counter.h"
#include "storage/keys.h"
#include "storage/rocks_options.h"
#include "storage/sealed_block.h"
#include "storage/shard.h"

namespace skua::storage {
namespace {

// Once a partition is no longer written, its sealed blocks are merged into blocks of up to this
// many entries (per service): each term key, trace ID and operation is then stored once for
// all of them instead of once per sealed block. Larger blocks save more (32 K entries: 11 B/span
// less on the reference workload) but a search for a rare tag then reads more: nearly every
// block holds it, so filters skip none (10 M spans, one-attribute p99 50 ms at 32 K, 28 at 16 K).
constexpr size_t kMergedBlockEntries = 16384;
// Entries merged per upkeep round of the writer thread (about a second's worth of it at most).
constexpr size_t kMergeEntriesPerRound = 65536;
// How often (seconds of the store's clock) the attribute catalog is expired and written: what
// a crash may lose of its counting.
constexpr int64_t kAttributeRowsEvery = 60;

uint64_t DirectoryBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace

void Shard::Maintain() {
  int64_t now_ns = clock_.NowNanos();
  int64_t now_s = now_ns / 1'000'000'000;
  // After a failed write (disk full, I/O error) RocksDB refuses writes until resumed; try
  // again every second, so ingest resumes by itself once space is back.
  if (!health_.Get().ok() && !Resume()) return;
  MaybeSeal(false, now_ns);
  last_maintain_s_ = now_s;
  for (const auto& p : partitions_.All()) {
    if (p.ExpiredAt(now_s)) Drop(p, "retention", dropped_retention_);
  }
  ExpireDependencies(now_s);
  if (keeps_attribute_rows() && now_s - attribute_rows_kept_s_ >= kAttributeRowsEvery) {
    KeepAttributeRows(true);
    attribute_rows_kept_s_ = now_s;
  }
  FinishClosedPartition(now_s);
  DropOverDiskCap(now_s);
}

// Over the disk cap, drops the oldest partitions that are not being written.
void Shard::DropOverDiskCap(int64_t now_s) {
  if (limits_.max_disk_bytes == 0) return;
  uint64_t bytes = DirectoryBytes(dir_);
  disk_bytes_.store(bytes, std::memory_order_relaxed);
  while (bytes > limits_.max_disk_bytes) {
    // The oldest partition that is not the one being written for its retention.
    auto parts = partitions_.All();
    const Partition* victim = nullptr;
    for (auto it = parts.rbegin(); it != parts.rend() && victim == nullptr; ++it) {
      int64_t current = now_s - now_s % it->width_s;
      if (it->start_s < current) victim = &*it;
    }
    if (victim == nullptr) break;
    SPDLOG_WARN("shard {}: {} bytes on disk, over the cap of {}: dropping the oldest partition",
                id_, bytes, limits_.max_disk_bytes);
    Drop(*victim, "disk cap", dropped_disk_cap_);
    bytes = DirectoryBytes(dir_);
    disk_bytes_.store(bytes, std::memory_order_relaxed);
  }
}

// True once no more index blocks can be sealed into `p`: its period is over and no open entry
// arrived within it.
bool Shard::PartitionClosed(const Partition& p, int64_t now_s) const {
  int64_t end_s = p.start_s + p.width_s;
  if (end_s > now_s) return false;
  return open_index_.NothingOpenBefore(end_s);
}

// Writer or compactor thread: `p` may have been dropped meanwhile.
absl::Status Shard::MarkFinished(const Partition& p) {
  auto s = db_->Put(WriteThatMayOutliveItsPartition(), p.cf.get(), FinishedMarkerKey(), "");
  if (!s.ok()) return FromRocks(s, fmt::format("mark partition {} finished", p.name));
  partitions_finished_.fetch_add(1, std::memory_order_relaxed);
  compactor_.MarkFinished(p.name);
  return absl::OkStatus();
}

// Finishes closed partitions, one step per call (writer thread, between commits): first their
// index blocks are merged, a bounded amount per call; then the compactor thread rewrites the
// partition with dictionary compression and marks it (`M "finished"` in it), so a restart
// does not do either again.
void Shard::FinishClosedPartition(int64_t now_s) {
  for (const auto& p : partitions_.All()) {
    if (compactor_.Handled(p.name)) continue;
    if (p.ExpiredAt(now_s) || !PartitionClosed(p, now_s)) continue;
    std::string marker;
    if (db_->Get(rocksdb::ReadOptions(), p.cf.get(), FinishedMarkerKey(), &marker).ok()) {
      compactor_.MarkFinished(p.name);
      continue;
    }
    auto done = MergeBlocks(p, kMergeEntriesPerRound);
    if (!done.ok()) {
      SPDLOG_WARN("shard {}: merge index blocks: {}", id_, done.status().message());
    } else if (*done) {
      compactor_.Enqueue(p);
    }
    return;
  }
}

// Merges runs of consecutive small sealed blocks of one service in `p` (newest first, each
// run at most kMergedBlockEntries entries) into one block each, in one write batch per run:
// the merged block takes the key of the run's newest block, the others are deleted. Stops
// after `budget` entries, remembering where; true when nothing is left to merge. Searches
// read under a snapshot, so they see either the run or the merged block, never neither.
absl::StatusOr<bool> Shard::MergeBlocks(const Partition& p, size_t budget) {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, p.index_cf.get()));
  struct Run {
    uint64_t service_hash = 0;
    std::vector<std::string> keys, values;
    size_t entries = 0;
  } run;
  auto flush = [&]() -> absl::Status {
    Run r = std::move(run);
    run = Run{};
    if (r.keys.size() < 2) return absl::OkStatus();
    std::vector<std::string_view> parts(r.values.begin(), r.values.end());
    auto merged = SealedBlock::Merge(parts);
    if (!merged) {
      SPDLOG_WARN(
          "shard {}: {} index blocks in {} could not be merged (malformed); left as they are", id_,
          r.keys.size(), p.name);
      return absl::OkStatus();
    }
    rocksdb::WriteBatch batch;
    rocksdb::ColumnFamilyHandle* cf = p.index_cf.get();
    batch.Put(cf, r.keys[0], merged->block);
    batch.Put(cf, FilterKeyOf(r.keys[0]), merged->filter);
    for (size_t i = 1; i < r.keys.size(); ++i) {
      batch.Delete(cf, r.keys[i]);
      batch.Delete(cf, FilterKeyOf(r.keys[i]));
    }
    auto s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return FromRocks(s, fmt::format("merge {} index blocks", r.keys.size()));
    rows_written_.fetch_add(batch.Count(), std::memory_order_relaxed);
    blocks_merged_.fetch_add(r.keys.size(), std::memory_order_relaxed);
    budget -= std::min(budget, r.entries);
    return absl::OkStatus();
  };
  auto resume = merge_resume_.find(p.name);
  it->Seek(resume != merge_resume_.end() ? resume->second : std::string(1, kBlockTag));
  for (; it->Valid() && it->key().starts_with(std::string_view(&kBlockTag, 1)); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() != 25) continue;
    std::string_view value(it->value().data(), it->value().size());
    auto block = SealedBlock::Decode(value);
    if (!block) continue;  // left alone; a search reports it
    uint64_t service_hash = DecodeBigEndian64(key.substr(1));
    size_t n = block->size();
    if (service_hash != run.service_hash || n >= kMergedBlockEntries / 2 ||
        run.entries + n > kMergedBlockEntries) {
      SKUA_RETURN_IF_ERROR(flush());
      if (budget == 0) {
        merge_resume_[p.name] = std::string(key);
        return false;
      }
    }
    if (n >= kMergedBlockEntries / 2) continue;
    run.service_hash = service_hash;
    run.keys.emplace_back(key);
    run.values.emplace_back(value);
    run.entries += n;
  }
  SKUA_RETURN_IF_ERROR(flush());
  if (!it->status().ok()) return FromRocks(it->status(), "merge index blocks: read");
  merge_resume_.erase(p.name);
  return true;
}

absl::Status Shard::CompactAll() {
  int64_t now_s = clock_.NowNanos() / 1'000'000'000;
  for (const auto& p : partitions_.All()) {
    auto done = MergeBlocks(p, SIZE_MAX);
    if (!done.ok()) return done.status();
    SKUA_RETURN_IF_ERROR(CompactPartition(p));
    if (PartitionClosed(p, now_s)) SKUA_RETURN_IF_ERROR(MarkFinished(p));
  }
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  auto s = db_->CompactRange(o, db_->DefaultColumnFamily(), nullptr, nullptr);
  if (!s.ok()) return FromRocks(s, fmt::format("compact shard {} default", id_));
  return absl::OkStatus();
}

// Rewrites a partition down to its last level with dictionary compression.
absl::Status Shard::CompactPartition(const Partition& p) {
  auto s = db_->SetOptions(p.cf.get(), {{"bottommost_compression_opts", kDictionaryCompression}});
  if (!s.ok()) return FromRocks(s, fmt::format("shard {}: {}: set compression", id_, p.name));
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  o.exclusive_manual_compaction = false;
  for (auto* cf : {p.cf.get(), p.index_cf.get()}) {
    s = db_->CompactRange(o, cf, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, fmt::format("compact shard {} {}", id_, cf->GetName()));
  }
  return absl::OkStatus();
}

void Shard::Drop(const Partition& p, std::string_view reason, std::atomic<uint64_t>& counter) {
  if (absl::Status st = partitions_.Drop(p); !st.ok()) {
    if (!absl::IsNotFound(st)) SPDLOG_WARN("shard {}: {}", id_, st.message());
    return;
  }
  known_rows_.erase(p.name + kResourceTag);
  known_rows_.erase(p.name + kScopeTag);
  if (auto rows = catalog_rows_.find(p.name); rows != catalog_rows_.end()) {
    for (const auto& key : rows->second) EditCatalog(p.tenant, key, false);
    catalog_rows_.erase(rows);
  }
  merge_resume_.erase(p.name);
  compactor_.Forget(p.name);
  row_cache_.Clear();
  counter.fetch_add(1, std::memory_order_relaxed);
  SPDLOG_INFO("shard {}: dropped partition {} ({})", id_, p.name, reason);
}

absl::Status Shard::Purge() {
  // The open entries point into the partitions about to go.
  open_index_.Clear();
  std::atomic<uint64_t> purged{0};
  for (const auto& p : partitions_.All()) Drop(p, "purge", purged);
  if (!partitions_.All().empty()) {
    return absl::InternalError(
        fmt::format("purge shard {}: a partition could not be dropped", id_));
  }
  known_rows_.clear();
  // What lives outside partitions: the index log (nothing left to replay: everything it names
  // is gone) and the dependency counts.
  rocksdb::WriteBatch batch;
  batch.DeleteRange(IndexLogKey(0), IndexLogKey(next_seq_));
  std::string sealed;
  AppendBigEndian64(sealed, next_seq_ - 1);
  batch.Put(SealedSeqKey(), sealed);
  batch.DeleteRange(std::string(1, kDependencyTag), std::string(1, kDependencyTag + 1));
  if (keeps_attribute_rows()) {
    attributes_.Clear();
    attributes_.Dirty([](std::string_view, std::string_view) {});  // every row goes below
    batch.DeleteRange(std::string(1, kAttributeTag), std::string(1, kAttributeTag + 1));
  }
  auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return FromRocks(s, fmt::format("purge shard {}", id_));
  SPDLOG_WARN("shard {}: purged: every stored span, index entry and dependency count deleted", id_);
  return absl::OkStatus();
}

// The attribute catalog's changed services, as `A` rows; first, with `expire`, what was last
// seen in expired partitions leaves it. A failed write marks nothing lost for good: the
// catalog is counted again from new spans (it is a statistic, docs/storage.md).
void Shard::KeepAttributeRows(bool expire) {
  if (expire) {
    int64_t now_s = clock_.NowNanos() / 1'000'000'000;
    attributes_.Expire([&](std::string_view tenant, std::string_view service) {
      return ExpiredArrivalsBefore(retention_->For(tenant, service), now_s);
    });
  }
  rocksdb::WriteBatch batch;
  attributes_.Dirty([&](std::string_view key, std::string_view value) {
    if (value.empty()) {
      batch.Delete(AttributeKey(key));
    } else {
      batch.Put(AttributeKey(key), value);
    }
  });
  if (batch.Count() == 0) return;
  if (auto s = db_->Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
    SPDLOG_WARN("shard {}: write attribute catalog ({} services): {}", id_, batch.Count(),
                s.ToString());
  }
}

// Forgets dependency counts older than the longest retention.
void Shard::ExpireDependencies(int64_t now_s) {
  int64_t cutoff_bucket = (now_s - retention_->Max()) * 1'000'000'000LL / kDependencyBucketNanos;
  if (cutoff_bucket <= deps_expired_before_) return;
  rocksdb::WriteBatch batch;
  batch.DeleteRange(DependencyKey("", 0, "", ""), DependencyKey("", cutoff_bucket, "", ""));
  if (db_->Write(rocksdb::WriteOptions(), &batch).ok()) {
    deps_expired_before_ = cutoff_bucket;
    open_index_.ForgetDependencies(cutoff_bucket);
  }
}

}  // namespace skua::storage
