// SpanStore on RocksDB: one database per shard under <path>/shard-NNN, so each shard has its own
// write-ahead log and memtables and its writer never contends with another shard's.

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/hash.h"
#include "common/status_macros.h"
#include "model/values.h"
#include "storage/catalog.h"
#include "storage/chunk.h"
#include "storage/dependency_counter.h"
#include "storage/index.h"
#include "storage/keys.h"
#include "storage/partition.h"
#include "storage/rocks_options.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"

namespace skua::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kMetaFile[] = "SKUA_META";
// Bounds on the per-shard memo of resource/scope ids already written (writer side) and on the
// decoded resource/scope cache (reader side). Past the bound the set is simply cleared: the cost
// is a few redundant identical Puts or Gets, never a wrong answer.
constexpr size_t kMaxKnownIds = 1 << 16;
constexpr size_t kMaxCachedRows = 1 << 14;
// Open index blocks of a shard are sealed when they hold this many entries or term occurrences
// in total, or when the oldest entry has waited this long (bounds memory and the replay after a
// crash). The occurrence bound only matters for spans with thousands of attributes; it keeps an
// open block's terms under ~64 MiB and a sealed block's postings far below 2^32 bits (the
// block format's positions are 32-bit).
constexpr size_t kSealEntries = 65536;
constexpr size_t kSealTermOccurrences = 4 << 20;
constexpr int64_t kSealAgeNanos = 30'000'000'000;
// Once a partition is no longer written, its sealed blocks are merged into blocks of up to this
// many entries (per service): each term key, trace ID and operation is then stored once for
// all of them instead of once per sealed block. Larger blocks save more (32 K entries: 11 B/span
// less on the reference workload) but a search for a rare tag then reads more: nearly every
// block holds it, so filters skip none (10 M spans, one-attribute p99 50 ms at 32 K, 28 at 16 K).
constexpr size_t kMergedBlockEntries = 16384;
// Entries merged per upkeep round of the writer thread (about a second's worth of it at most).
constexpr size_t kMergeEntriesPerRound = 65536;

// Keeps the `limit` traces whose newest matching span started last, newest first, ties by trace
// ID (the order of a search's answer: docs/api.md, "Search semantics").
void KeepNewest(std::vector<TraceHit>& hits, size_t limit) {
  std::sort(hits.begin(), hits.end(), [](const TraceHit& a, const TraceHit& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.trace_id < b.trace_id;
  });
  if (hits.size() > limit) hits.resize(limit);
}

struct Meta {
  int format_version = 0;
  int shards = 0;
};

std::optional<Meta> ReadMeta(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  Meta m;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "format_version") m.format_version = std::atoi(v.c_str());
    if (k == "shards") m.shards = std::atoi(v.c_str());
  }
  return m;
}

absl::Status WriteMeta(const fs::path& file, const Meta& m) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "format_version=" << m.format_version << "\nshards=" << m.shards << "\n";
    out.flush();
    if (!out) return absl::UnavailableError(fmt::format("write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return absl::UnavailableError(fmt::format("rename {}: {}", tmp.string(), ec.message()));
  return absl::OkStatus();
}

uint64_t DirectoryBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

class Shard {
 public:
  Shard(int id, fs::path dir, std::unique_ptr<rocksdb::DB> db,
        std::vector<rocksdb::ColumnFamilyHandle*> partitions,
        rocksdb::ColumnFamilyOptions cf_options, uint64_t last_seq, common::Clock& clock,
        Catalog& catalog, std::shared_ptr<const RetentionPolicy> retention, uint64_t max_disk_bytes,
        uint64_t min_free_disk_bytes)
      : id_(id),
        dir_(std::move(dir)),
        db_(std::move(db)),
        cf_options_(std::move(cf_options)),
        clock_(clock),
        catalog_(catalog),
        retention_(std::move(retention)),
        max_disk_bytes_(max_disk_bytes),
        min_free_disk_bytes_(min_free_disk_bytes),
        next_seq_(last_seq + 1) {
    // Open() passes every partition's two families (docs/storage.md).
    std::map<std::string, rocksdb::ColumnFamilyHandle*> index_families;
    for (auto* h : partitions) {
      if (h->GetName().ends_with(kIndexFamilySuffix)) index_families[h->GetName()] = h;
    }
    for (auto* h : partitions) {
      auto p = ParsePartitionName(h->GetName());
      if (!p) continue;
      p->cf = Adopt(h);
      p->index_cf = Adopt(index_families.at(IndexFamilyName(p->name)));
      parts_.push_back(std::move(*p));
    }
    SortPartitions();
  }

  // A clean close seals the open index blocks and flushes the memtables, so the next start
  // replays nothing and the write-ahead log holds no second copy of the data.
  ~Shard() {
    {
      std::lock_guard lock(compact_mu_);
      compact_stop_ = true;
      compact_cv_.notify_all();
    }
    if (compactor_.joinable()) {
      db_->DisableManualCompaction();  // a running partition compaction returns at once
      compactor_.join();
    }
    MaybeSeal(true, clock_.NowNanos());
    rocksdb::FlushOptions fo;
    std::vector<rocksdb::ColumnFamilyHandle*> all = FamiliesOf(parts_);
    all.push_back(db_->DefaultColumnFamily());
    if (auto s = db_->Flush(fo, all); !s.ok()) {
      SPDLOG_WARN("shard {}: flush at close: {}", id_, s.ToString());
    }
    parts_.clear();  // handles go before the database
  }

  // Loads the catalog and dependency rows and replays unsealed index entries.
  absl::Status Recover() {
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    for (const auto& p : Partitions()) {
      std::unique_ptr<rocksdb::Iterator> c(db_->NewIterator(ro, p.cf.get()));
      for (c->Seek(std::string(1, kCatalogTag));
           c->Valid() && c->key().size() > 0 && c->key()[0] == kCatalogTag; c->Next()) {
        std::string key(c->key().data(), c->key().size());
        EditCatalog(key, true);
        catalog_rows_[p.name].insert(std::move(key));
      }
      if (!c->status().ok())
        return FromRocks(c->status(), fmt::format("read catalog of {}", p.name));
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(std::string(1, kDependencyTag));
         it->Valid() && it->key().size() > 9 && it->key()[0] == kDependencyTag; it->Next()) {
      std::string_view k(it->key().data(), it->key().size());
      auto bucket = static_cast<int64_t>(DecodeBigEndian64(k.substr(1)));
      auto names = k.substr(9);
      auto z = names.find('\0');
      if (z == std::string_view::npos || it->value().size() != 8) continue;
      deps_.Load(bucket, std::string(names.substr(0, z)), std::string(names.substr(z + 1)),
                 DecodeBigEndian64(std::string_view(it->value().data(), 8)));
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
      std::lock_guard lock(index_mu_);
      ApplyLocked(*batch, seq, arrival_ns);
      replayed += batch->entries.size();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "recover index");
    if (replayed > 0) {
      SPDLOG_INFO("shard {}: replayed {} unsealed index entries", id_, replayed);
    }
    return absl::OkStatus();
  }

  absl::Status Commit(std::span<const PreparedWrite* const> writes, bool sync) {
    // After a failed write RocksDB must be resumed (Maintain does) before it takes another.
    if (absl::Status h = Health(); !h.ok()) {
      if (!Resume()) return h;
    }
    if (absl::Status space = CheckFreeSpace(); !space.ok()) {
      SetHealth(space);
      return space;
    }
    int64_t now_ns = clock_.NowNanos();
    int64_t now_s = now_ns / 1'000'000'000;
    rocksdb::WriteBatch batch;
    std::vector<std::pair<std::string, uint64_t>>
        new_rows;  // (partition + tag, id) to forget on failure
    std::vector<std::pair<const IndexBatch*, uint64_t>> indexes;
    std::vector<std::pair<std::string, std::string>> new_catalog;  // (partition, key)
    std::map<int64_t, Partition> partitions;                       // by retention, for this commit
    auto partition_for = [&](int64_t retention_s) -> absl::StatusOr<const Partition*> {
      auto found = partitions.find(retention_s);
      if (found == partitions.end()) {
        auto p = PartitionFor(retention_s, now_s);
        if (!p.ok()) return p.status();
        found = partitions.emplace(retention_s, std::move(*p)).first;
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
        auto found = partition_for(c.retention_seconds);
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
        auto found = partition_for(retention_->For(service));
        if (!found.ok()) {
          rollback();
          return found.status();
        }
        std::string key = CatalogKey(service, index.strings[c.operation], c.kind);
        if (catalog_rows_[(*found)->name].insert(key).second) {
          batch.Put((*found)->cf.get(), key, "");
          new_catalog.emplace_back((*found)->name, std::move(key));
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
      SetHealth(st);
      return st;
    }
    rows_written_.fetch_add(batch.Count(), std::memory_order_relaxed);
    for (auto& [name, known] : known_rows_) {
      if (known.size() > kMaxKnownIds) known.clear();
    }
    // Open blocks never span two time partitions: entries of a new period start new blocks.
    MaybeSeal(false, now_ns);
    {
      std::lock_guard lock(index_mu_);
      for (const auto& [index, seq] : indexes) ApplyLocked(*index, seq, now_ns);
    }
    for (const auto& [part, key] : new_catalog) EditCatalog(key, true);
    MaybeSeal(false, now_ns);
    if (now_s != last_maintain_s_) Maintain();
    return absl::OkStatus();
  }

  void Maintain() {
    int64_t now_ns = clock_.NowNanos();
    int64_t now_s = now_ns / 1'000'000'000;
    // After a failed write (disk full, I/O error) RocksDB refuses writes until resumed; try
    // again every second, so ingest resumes by itself once space is back.
    if (!Health().ok() && !Resume()) return;
    MaybeSeal(false, now_ns);
    last_maintain_s_ = now_s;
    for (const auto& p : Partitions()) {
      if (p.ExpiredAt(now_s)) Drop(p, "retention", dropped_retention_);
    }
    ExpireDependencies(now_s);
    FinishClosedPartition(now_s);
    if (max_disk_bytes_ == 0) return;
    uint64_t bytes = DirectoryBytes(dir_);
    disk_bytes_.store(bytes, std::memory_order_relaxed);
    while (bytes > max_disk_bytes_) {
      // The oldest partition that is not the one being written for its retention.
      auto parts = Partitions();
      const Partition* victim = nullptr;
      for (auto it = parts.rbegin(); it != parts.rend() && victim == nullptr; ++it) {
        int64_t current = now_s - now_s % it->width_s;
        if (it->start_s < current) victim = &*it;
      }
      if (victim == nullptr) break;
      SPDLOG_WARN("shard {}: {} bytes on disk, over the cap of {}: dropping the oldest partition",
                  id_, bytes, max_disk_bytes_);
      Drop(*victim, "disk cap", dropped_disk_cap_);
      bytes = DirectoryBytes(dir_);
      disk_bytes_.store(bytes, std::memory_order_relaxed);
    }
  }

  // True once no more index blocks can be sealed into `p`: its period is over and no open entry
  // arrived within it.
  bool PartitionClosed(const Partition& p, int64_t now_s) {
    int64_t end_s = p.start_s + p.width_s;
    if (end_s > now_s) return false;
    std::lock_guard lock(index_mu_);
    return open_entries_ == 0 || oldest_open_ns_ / 1'000'000'000 >= end_s;
  }

  absl::Status MarkFinished(const Partition& p) {
    auto s = db_->Put(rocksdb::WriteOptions(), p.cf.get(), FinishedMarkerKey(), "");
    if (!s.ok()) return FromRocks(s, fmt::format("mark partition {} finished", p.name));
    partitions_finished_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(compact_mu_);
    finished_.insert(p.name);
    return absl::OkStatus();
  }

  // Finishes closed partitions, one step per call (writer thread, between commits): first their
  // index blocks are merged, a bounded amount per call; then the compactor thread rewrites the
  // partition with dictionary compression and marks it (`M "finished"` in it), so a restart
  // does not do either again.
  void FinishClosedPartition(int64_t now_s) {
    for (const auto& p : Partitions()) {
      {
        std::lock_guard lock(compact_mu_);
        if (finished_.contains(p.name) || compact_queued_.contains(p.name)) continue;
      }
      if (p.ExpiredAt(now_s) || !PartitionClosed(p, now_s)) continue;
      std::string marker;
      if (db_->Get(rocksdb::ReadOptions(), p.cf.get(), FinishedMarkerKey(), &marker).ok()) {
        std::lock_guard lock(compact_mu_);
        finished_.insert(p.name);
        continue;
      }
      auto done = MergeBlocks(p, kMergeEntriesPerRound);
      if (!done.ok()) {
        SPDLOG_WARN("shard {}: merge index blocks: {}", id_, done.status().message());
      } else if (*done) {
        std::lock_guard lock(compact_mu_);
        compact_queued_.insert(p.name);
        compact_queue_.push_back(p);
        if (!compactor_.joinable()) compactor_ = std::thread([this] { RunCompactor(); });
        compact_cv_.notify_all();
      }
      return;
    }
  }

  // The compactor thread: rewrites queued closed partitions, one at a time.
  void RunCompactor() {
    for (;;) {
      Partition p;
      {
        std::unique_lock lock(compact_mu_);
        compact_cv_.wait(lock, [this] { return compact_stop_ || !compact_queue_.empty(); });
        if (compact_stop_) return;
        p = compact_queue_.front();
        compact_queue_.pop_front();
      }
      absl::Status st = CompactPartition(p);
      if (st.ok()) st = MarkFinished(p);
      bool live = false;
      for (const auto& q : Partitions()) live = live || q.name == p.name;
      std::lock_guard lock(compact_mu_);
      compact_queued_.erase(p.name);  // after a failure, tried again at a later round
      if (!st.ok() && live && !compact_stop_) {
        SPDLOG_WARN("shard {}: finish partition {}: {}", id_, p.name, st.message());
      }
    }
  }

  // Merges runs of consecutive small sealed blocks of one service in `p` (newest first, each
  // run at most kMergedBlockEntries entries) into one block each, in one write batch per run:
  // the merged block takes the key of the run's newest block, the others are deleted. Stops
  // after `budget` entries, remembering where; true when nothing is left to merge. Searches
  // read under a snapshot, so they see either the run or the merged block, never neither.
  absl::StatusOr<bool> MergeBlocks(const Partition& p, size_t budget) {
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
      auto merged = Block::Merge(parts);
      if (!merged) {
        SPDLOG_WARN(
            "shard {}: {} index blocks in {} could not be merged (malformed); left as they are",
            id_, r.keys.size(), p.name);
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
      auto block = Block::Decode(value);
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

  // Seals every open block if they are big or old enough, if the time partition of `now_ns`
  // is not the one their entries arrived in, or if `force`. Blocks go to the partition of their
  // oldest entry's arrival, so they never outlive the spans they point to.
  void MaybeSeal(bool force, int64_t now_ns) {
    std::vector<std::tuple<std::string, std::string, int64_t>> rows;  // key, value, retention
    uint64_t through = 0;
    int64_t arrival_s = 0;
    {
      std::lock_guard lock(index_mu_);
      if (open_entries_ == 0) return;
      bool old = now_ns - oldest_open_ns_ >= SealAgeNanos();
      bool new_period = false;
      for (int64_t w : PartitionWidths()) {
        new_period =
            new_period || now_ns / 1'000'000'000 / w != oldest_open_ns_ / 1'000'000'000 / w;
      }
      if (!force && !old && !new_period && open_entries_ < kSealEntries &&
          open_terms_ < kSealTermOccurrences) {
        return;
      }
      through = open_last_seq_;
      arrival_s = oldest_open_ns_ / 1'000'000'000;
      for (const auto& [service, block] : open_) {
        std::string key = BlockKey(common::StableHash64(service), block.max_start(), through);
        Block::Sealed sealed = block.Seal();
        int64_t r = retention_->For(service);
        rows.emplace_back(FilterKeyOf(key), std::move(sealed.filter), r);
        rows.emplace_back(std::move(key), std::move(sealed.block), r);
      }
    }
    if (!Health().ok()) return;  // nothing can be written until resumed
    rocksdb::WriteBatch batch;
    int64_t now_s = now_ns / 1'000'000'000;
    for (auto& [key, value, retention_s] : rows) {
      int64_t width = PartitionWidthSeconds(retention_s);
      if (arrival_s - arrival_s % width + width <= now_s - retention_s) continue;  // expired
      auto part = PartitionFor(retention_s, arrival_s);
      if (!part.ok()) {
        SPDLOG_WARN("shard {}: seal index blocks: {}", id_, part.status().message());
        return;
      }
      batch.Put(part->index_cf.get(), key, value);
    }
    {
      std::lock_guard lock(index_mu_);
      deps_.ForEachDirty(
          [&](const std::string& key, const std::string& value) { batch.Put(key, value); });
    }
    batch.DeleteRange(IndexLogKey(0), IndexLogKey(through + 1));
    std::string v;
    AppendBigEndian64(v, through);
    batch.Put(SealedSeqKey(), v);
    auto s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) {
      // Keep the blocks open; the index log still covers them. Retried at the next chance.
      SPDLOG_WARN("shard {}: seal index blocks: {}", id_, s.ToString());
      return;
    }
    rows_written_.fetch_add(batch.Count(), std::memory_order_relaxed);
    std::lock_guard lock(index_mu_);
    open_.clear();
    open_entries_ = 0;
    open_terms_ = 0;
    deps_.ClearDirty();
  }

  // This shard's part of a search: its `limit` newest matching traces, newest first (ties by
  // trace ID). With tags, sealed blocks yield candidates (their postings are keyed by 32 bits
  // of the term hash), so the answer is verified against the spans: a candidate that does not
  // match is excluded and the index walked again, until the top `limit` are all verified.
  absl::Status Search(const TraceQuery& q, const std::vector<std::string>& services,
                      std::vector<TraceHit>& out) {
    absl::flat_hash_map<common::TraceId, std::optional<int64_t>, common::TraceIdHash> known;
    absl::flat_hash_map<common::TraceId, std::shared_ptr<otlp::TracesData>, common::TraceIdHash>
        read;  // the traces verification read
    const size_t limit = static_cast<size_t>(std::max(q.limit, 1));
    for (;;) {
      SKUA_RETURN_IF_ERROR(CheckDeadline(q));
      Hits hits;
      hits.known = &known;
      SKUA_RETURN_IF_ERROR(WalkIndex(q, services, hits));
      out.clear();
      for (const auto& [id, start] : hits.best) out.push_back({id, start, nullptr});
      KeepNewest(out, limit);
      if (q.tags.empty()) return absl::OkStatus();
      bool settled = true;
      for (const TraceHit& hit : out) {
        auto [it, fresh] = known.try_emplace(hit.trace_id);
        if (fresh) {
          SKUA_RETURN_IF_ERROR(CheckDeadline(q));
          auto trace = GetTrace(hit.trace_id);
          if (!trace.ok()) return trace.status();
          if (*trace) {
            auto stored = std::make_shared<otlp::TracesData>(std::move(**trace));
            it->second = NewestMatchingStart(q, *stored);
            read.emplace(hit.trace_id, std::move(stored));
          }
        }
        settled = settled && it->second == hit.start_ns;
      }
      if (settled) {
        for (TraceHit& hit : out) {
          if (auto r = read.find(hit.trace_id); r != read.end()) hit.trace = std::move(r->second);
        }
        return absl::OkStatus();
      }
    }
  }

  // The start of the trace's newest span matching `q`; nullopt if none.
  static std::optional<int64_t> NewestMatchingStart(const TraceQuery& q,
                                                    const otlp::TracesData& trace) {
    std::optional<int64_t> newest;
    for (const auto& rs : trace.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          if (!SpanMatches(q, rs.resource(), ss.scope(), span)) continue;
          int64_t start = static_cast<int64_t>(span.start_time_unix_nano());
          if (!newest || start > *newest) newest = start;
        }
      }
    }
    return newest;
  }

  // Adds to `hits` the index entries of this shard matching `q`, newest blocks first, reading
  // no block that cannot change the `limit` newest.
  absl::Status WalkIndex(const TraceQuery& q, const std::vector<std::string>& services,
                         Hits& hits) {
    {
      std::lock_guard lock(index_mu_);
      for (const auto& [service, block] : open_) {
        if (q.service.empty() || q.service == service) block.Search(q, hits);
      }
    }
    size_t limit = static_cast<size_t>(std::max(q.limit, 1));
    // With tags, walk the small filter rows and read a block only when its filter may hold
    // every tag; without, walk the blocks themselves.
    std::vector<uint64_t> tag_hashes;
    for (const auto& [k, v] : q.tags) tag_hashes.push_back(TermHash(k, v));
    bool use_filters = !tag_hashes.empty();
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    // One consistent view for filters and blocks: a merge replacing blocks meanwhile is either
    // wholly seen or not at all.
    std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> snap(
        db_->GetSnapshot(), [this](const rocksdb::Snapshot* s) { db_->ReleaseSnapshot(s); });
    ro.snapshot = snap.get();
    rocksdb::PinnableSlice block_value;
    uint64_t blocks_seen = 0;
    for (const auto& part : LivePartitions()) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, part.index_cf.get()));
      for (const auto& service : services) {
        SKUA_RETURN_IF_ERROR(CheckDeadline(q));
        uint64_t service_hash = common::StableHash64(service);
        std::string prefix = use_filters ? FilterPrefix(service_hash) : BlockPrefix(service_hash);
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
          std::string_view key(it->key().data(), it->key().size());
          if (key.size() != 25) continue;
          if ((++blocks_seen & 15) == 0) SKUA_RETURN_IF_ERROR(CheckDeadline(q));
          int64_t max_start = BlockKeyMaxStart(key);
          // Blocks come newest first: nothing older can enter the result any more.
          if (q.start_min_ns != 0 && max_start < q.start_min_ns) break;
          if (auto nth = hits.NthNewest(limit); nth && *nth > max_start) break;
          std::string_view value(it->value().data(), it->value().size());
          if (use_filters) {
            bool may = true;
            for (uint64_t h : tag_hashes) may = may && FilterMayContain(value, h);
            if (!may) continue;
            block_value.Reset();
            auto s = db_->Get(ro, part.index_cf.get(), BlockKeyOf(key), &block_value);
            if (s.IsNotFound()) continue;
            if (!s.ok()) return FromRocks(s, "read index block");
            value = std::string_view(block_value.data(), block_value.size());
          }
          auto block = Block::Decode(value);
          if (!block) {
            Unreadable(fmt::format("index block {} in {}", common::HexEncode(key), part.name));
            continue;
          }
          if (block->service() != service) continue;  // a hash collision between services
          if (!block->Search(q, hits)) {
            Unreadable(fmt::format("index block {} in {}", common::HexEncode(key), part.name));
          }
        }
        if (!it->status().ok()) return FromRocks(it->status(), "search index");
      }
    }
    return absl::OkStatus();
  }

  void SumDependencies(int64_t start_ns, int64_t end_ns,
                       std::map<std::pair<std::string, std::string>, uint64_t>& out) {
    std::lock_guard lock(index_mu_);
    deps_.Sum(start_ns, end_ns, out);
  }

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) {
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
    auto parts = LivePartitions();
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

  uint64_t LiveDataBytes() const {
    uint64_t total = 0;
    auto parts = Partitions();
    for (auto* cf : FamiliesOf(parts)) {
      uint64_t live = 0, mem = 0;
      db_->GetIntProperty(cf, "rocksdb.estimate-live-data-size", &live);
      db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &mem);
      total += live + mem;
    }
    return total;
  }

  absl::Status Health() const {
    std::lock_guard lock(health_mu_);
    return health_;
  }

  absl::Status CompactAll() {
    int64_t now_s = clock_.NowNanos() / 1'000'000'000;
    for (const auto& p : Partitions()) {
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
  absl::Status CompactPartition(const Partition& p) {
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

  // Adds the approximate SST bytes of each key tag's range, every column family.
  void AddUsageByTag(std::map<char, uint64_t>& out) const {
    auto parts = Partitions();
    std::vector<rocksdb::ColumnFamilyHandle*> cfs = FamiliesOf(parts);
    cfs.push_back(db_->DefaultColumnFamily());
    for (auto* cf : cfs) {
      for (char tag : std::string_view(kRowTags)) {
        std::string begin(1, tag), end(1, static_cast<char>(tag + 1));
        rocksdb::Range r(begin, end);
        uint64_t bytes = 0;
        rocksdb::SizeApproximationOptions o;
        o.include_files = true;
        o.include_memtables = false;
        if (db_->GetApproximateSizes(o, cf, &r, 1, &bytes).ok()) out[tag] += bytes;
      }
    }
  }

  void AddStats(StorageStats& s) const {
    auto parts = Partitions();
    s.rows_written += rows_written_.load(std::memory_order_relaxed);
    s.undecodable_rows += unreadable_rows_.load(std::memory_order_relaxed);
    s.partitions += parts.size();
    s.partitions_dropped_retention += dropped_retention_.load(std::memory_order_relaxed);
    s.partitions_dropped_disk_cap += dropped_disk_cap_.load(std::memory_order_relaxed);
    s.disk_bytes += disk_bytes_.load(std::memory_order_relaxed);
    s.index_blocks_merged += blocks_merged_.load(std::memory_order_relaxed);
    uint64_t v = 0;
    for (const char* prop : {"rocksdb.num-running-compactions", "rocksdb.num-running-flushes"}) {
      if (db_->GetIntProperty(prop, &v)) s.background_jobs += v;
    }
    for (auto* cf : FamiliesOf(parts)) {
      if (db_->GetIntProperty(cf, "rocksdb.compaction-pending", &v)) s.background_jobs += v;
    }
    s.partitions_finished += partitions_finished_.load(std::memory_order_relaxed);
  }

 private:
  // Index blocks are sealed after 30 s, or sooner for short retentions: an entry waits at most
  // one partition width in memory.
  int64_t SealAgeNanos() const {
    return std::min<int64_t>(kSealAgeNanos,
                             PartitionWidthSeconds(MinRetention()) * 1'000'000'000LL);
  }
  std::set<int64_t> PartitionWidths() const {
    std::set<int64_t> w{PartitionWidthSeconds(retention_->default_seconds)};
    for (const auto& [s, r] : retention_->overrides) w.insert(PartitionWidthSeconds(r));
    return w;
  }
  int64_t MinRetention() const {
    int64_t m = retention_->default_seconds;
    for (const auto& [s, r] : retention_->overrides) m = std::min(m, r);
    return m;
  }

  std::shared_ptr<rocksdb::ColumnFamilyHandle> Adopt(rocksdb::ColumnFamilyHandle* h) {
    rocksdb::DB* db = db_.get();
    return std::shared_ptr<rocksdb::ColumnFamilyHandle>(
        h, [db](rocksdb::ColumnFamilyHandle* p) { db->DestroyColumnFamilyHandle(p); });
  }

  // REQUIRES: parts_mu_ held exclusively, or construction.
  void SortPartitions() {
    std::sort(parts_.begin(), parts_.end(), [](const Partition& a, const Partition& b) {
      return a.start_s != b.start_s ? a.start_s > b.start_s : a.name < b.name;
    });
  }

  // Newest first. Copies share the column family handles, which stay usable after a drop.
  std::vector<Partition> Partitions() const {
    std::shared_lock lock(parts_mu_);
    return parts_;
  }

  std::vector<Partition> LivePartitions() const {
    int64_t now_s = clock_.NowNanos() / 1'000'000'000;
    std::vector<Partition> out;
    for (auto& p : Partitions()) {
      if (!p.ExpiredAt(now_s)) out.push_back(std::move(p));
    }
    return out;
  }

  // The partition receiving data kept `retention_s` at `now_s`, created if needed.
  // Writer thread only.
  absl::StatusOr<Partition> PartitionFor(int64_t retention_s, int64_t now_s) {
    int64_t width = PartitionWidthSeconds(retention_s);
    std::string name = PartitionName(retention_s, width, now_s - now_s % width);
    {
      std::shared_lock lock(parts_mu_);
      for (const auto& p : parts_) {
        if (p.name == name) return p;
      }
    }
    // The index family first: a crash between the two leaves an index family without data,
    // which Open() drops, never data without its index family.
    rocksdb::ColumnFamilyHandle *h = nullptr, *index = nullptr;
    auto s = db_->CreateColumnFamily(cf_options_, IndexFamilyName(name), &index);
    if (!s.ok()) return FromRocks(s, fmt::format("create partition {}", name));
    auto index_handle = Adopt(index);
    s = db_->CreateColumnFamily(cf_options_, name, &h);
    if (!s.ok()) {
      if (auto d = db_->DropColumnFamily(index); !d.ok()) {
        SPDLOG_WARN("shard {}: drop {}: {}", id_, IndexFamilyName(name), d.ToString());
      }
      return FromRocks(s, fmt::format("create partition {}", name));
    }
    Partition p = *ParsePartitionName(name);
    p.cf = Adopt(h);
    p.index_cf = std::move(index_handle);
    std::unique_lock lock(parts_mu_);
    parts_.push_back(p);
    SortPartitions();
    return p;
  }

  void Drop(const Partition& p, std::string_view reason, std::atomic<uint64_t>& counter) {
    {
      std::unique_lock lock(parts_mu_);
      auto it = std::find_if(parts_.begin(), parts_.end(),
                             [&](const Partition& x) { return x.name == p.name; });
      if (it == parts_.end()) return;
      parts_.erase(it);
    }
    // Data first: a crash between the two leaves an index family without data, which Open()
    // drops.
    for (auto* cf : {p.cf.get(), p.index_cf.get()}) {
      if (auto s = db_->DropColumnFamily(cf); !s.ok()) {
        SPDLOG_WARN("shard {}: drop partition {}: {}", id_, cf->GetName(), s.ToString());
        return;
      }
    }
    known_rows_.erase(p.name + kResourceTag);
    known_rows_.erase(p.name + kScopeTag);
    if (auto rows = catalog_rows_.find(p.name); rows != catalog_rows_.end()) {
      for (const auto& key : rows->second) EditCatalog(key, false);
      catalog_rows_.erase(rows);
    }
    merge_resume_.erase(p.name);
    {
      std::lock_guard lock(compact_mu_);
      finished_.erase(p.name);
    }
    {
      std::lock_guard lock(cache_mu_);
      row_cache_.clear();
    }
    counter.fetch_add(1, std::memory_order_relaxed);
    SPDLOG_INFO("shard {}: dropped partition {} ({})", id_, p.name, reason);
  }

  // Forgets dependency counts older than the longest retention.
  void ExpireDependencies(int64_t now_s) {
    int64_t cutoff_bucket = (now_s - retention_->Max()) * 1'000'000'000LL / kDependencyBucketNanos;
    if (cutoff_bucket <= deps_expired_before_) return;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(DependencyKey(0, "", ""), DependencyKey(cutoff_bucket, "", ""));
    if (db_->Write(rocksdb::WriteOptions(), &batch).ok()) {
      deps_expired_before_ = cutoff_bucket;
      std::lock_guard lock(index_mu_);
      deps_.Forget(cutoff_bucket);
    }
  }

  // Adds a catalog row's (service, operation, kind) to the catalog, or removes one.
  void EditCatalog(std::string_view key, bool add) {
    // service \0 operation \0 kind: the kind is the last byte (and may itself be 0).
    std::string_view k = key.substr(1);
    auto a = k.find('\0');
    if (a == std::string_view::npos || k.size() < a + 3 || k[k.size() - 2] != '\0') return;
    std::string service(k.substr(0, a)), operation(k.substr(a + 1, k.size() - 2 - a - 1));
    auto kind = static_cast<uint8_t>(k.back());
    if (add) {
      catalog_.Add(service, operation, kind);
    } else {
      catalog_.Remove(service, operation, kind);
    }
  }

  // Rebuilds the index entries of the request committed with `seq` from its chunks, given its
  // index log row (per partition: name, trace IDs).
  absl::StatusOr<IndexBatch> Reindex(std::string_view log, uint64_t seq) {
    IndexBatchBuilder builder;
    // Keeps the decoded messages alive while the builder holds pointers to them.
    std::deque<otlp::ResourceSpans> resources;
    std::deque<otlp::ScopeSpans> scopes;
    std::deque<otlp::Span> spans;
    auto parts = Partitions();
    while (!log.empty()) {
      auto name_len = ReadVarint(log);
      if (!name_len || *name_len > log.size()) return Malformed(seq);
      std::string name(log.substr(0, *name_len));
      log.remove_prefix(*name_len);
      auto n = ReadVarint(log);
      if (!n || *n * 16 > log.size()) return Malformed(seq);
      std::string_view ids = log.substr(0, *n * 16);
      log.remove_prefix(*n * 16);
      auto part = std::find_if(parts.begin(), parts.end(),
                               [&](const Partition& p) { return p.name == name; });
      if (part == parts.end()) continue;  // dropped since
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
            Unreadable(fmt::format("a span of trace {} (seq {}) in {}",
                                   common::FormatTraceId32(*id), seq, name));
            continue;
          }
          builder.Add({rs, ss, &spans.back()});
        }
      }
    }
    return builder.Finish();
  }

  // Unavailable while the data filesystem has less free space than the configured minimum.
  absl::Status CheckFreeSpace() const {
    if (min_free_disk_bytes_ == 0) return absl::OkStatus();
    struct statvfs st;
    if (statvfs(dir_.c_str(), &st) != 0) return absl::OkStatus();
    uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (free >= min_free_disk_bytes_) return absl::OkStatus();
    return absl::UnavailableError(
        fmt::format("disk nearly full: {} bytes free, storage.min_free_disk_bytes is {}", free,
                    min_free_disk_bytes_));
  }

  // Makes writes possible again after a failure, at most once a second: once there is free
  // space, asks RocksDB to recover. True if writes work again.
  bool Resume() {
    int64_t now_s = clock_.NowNanos() / 1'000'000'000;
    if (now_s == last_resume_s_) return false;
    last_resume_s_ = now_s;
    if (!CheckFreeSpace().ok() || !db_->Resume().ok()) return false;
    SPDLOG_INFO("shard {}: writes resumed", id_);
    SetHealth(absl::OkStatus());
    return true;
  }

  void SetHealth(absl::Status st) {
    std::lock_guard lock(health_mu_);
    if (!st.ok() && health_.ok()) SPDLOG_ERROR("shard {}: writes failing: {}", id_, st.message());
    health_ = std::move(st);
  }

  absl::Status CheckDeadline(const TraceQuery& q) const {
    if (q.deadline_ns == 0 || clock_.NowNanos() <= q.deadline_ns) return absl::OkStatus();
    return absl::DeadlineExceededError("the search ran out of time");
  }

  // A stored row that cannot be decoded (bit rot, a bug, a format this build does not know):
  // counted and logged; the caller leaves it out and goes on.
  void Unreadable(std::string_view what) {
    unreadable_rows_.fetch_add(1, std::memory_order_relaxed);
    SPDLOG_WARN("shard {}: unreadable row skipped: {}", id_, what);
  }

  absl::Status Malformed(uint64_t seq) const {
    return absl::DataLossError(fmt::format("shard {}: malformed index log row {}", id_, seq));
  }

  // REQUIRES: index_mu_ held.
  void ApplyLocked(const IndexBatch& batch, uint64_t seq, int64_t arrival_ns) {
    if (open_entries_ == 0) oldest_open_ns_ = arrival_ns;
    for (const auto& e : batch.entries) {
      const std::string& service = batch.strings[e.service];
      auto it = open_.find(service);
      if (it == open_.end()) it = open_.emplace(service, Block(service)).first;
      it->second.Append(batch, e);
      ++open_entries_;
      open_terms_ += e.terms_end - e.terms_begin;
      deps_.Add(e.trace_id, e.span_id, e.parent_span_id, service, e.start_ns);
    }
    open_last_seq_ = std::max(open_last_seq_, seq);
  }

  // A resource or scope row decoded into `out`.
  absl::Status ReadRowInto(const Partition& part, const std::string& key,
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
  absl::StatusOr<std::string> ReadRow(const Partition& part, const std::string& key) {
    std::string cache_key = part.name + key;
    {
      std::lock_guard lock(cache_mu_);
      auto it = row_cache_.find(cache_key);
      if (it != row_cache_.end()) return it->second;
    }
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), part.cf.get(), key, &value);
    if (s.IsNotFound()) {
      return absl::DataLossError(
          fmt::format("missing row {} in partition {}", common::HexEncode(key), part.name));
    }
    if (!s.ok()) return FromRocks(s, "read row");
    std::lock_guard lock(cache_mu_);
    if (row_cache_.size() > kMaxCachedRows) row_cache_.clear();
    row_cache_.emplace(std::move(cache_key), value);
    return value;
  }

  const int id_;
  const fs::path dir_;
  std::unique_ptr<rocksdb::DB> db_;
  const rocksdb::ColumnFamilyOptions cf_options_;
  common::Clock& clock_;
  Catalog& catalog_;
  const std::shared_ptr<const RetentionPolicy> retention_;
  const uint64_t max_disk_bytes_;  // this shard's share of storage.max_disk_bytes
  const uint64_t min_free_disk_bytes_;

  mutable std::shared_mutex parts_mu_;
  std::vector<Partition> parts_;  // newest first; guarded by parts_mu_

  // Writer-thread state (Commit and Maintain never run concurrently for one shard).
  uint64_t next_seq_;
  int64_t last_maintain_s_ = 0;
  int64_t last_resume_s_ = 0;
  int64_t deps_expired_before_ = 0;
  // Resource and scope row ids already written, per partition + row tag.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> known_rows_;
  // The catalog rows of each partition (writer thread only).
  std::map<std::string, std::unordered_set<std::string>> catalog_rows_;

  // The open index blocks, read by searches and written by the writer.
  std::mutex index_mu_;
  std::map<std::string, Block> open_;  // by service; guarded by index_mu_
  size_t open_entries_ = 0;            // guarded by index_mu_
  size_t open_terms_ = 0;              // span term occurrences of open_; guarded by index_mu_
  int64_t oldest_open_ns_ = 0;         // guarded by index_mu_
  uint64_t open_last_seq_ = 0;         // guarded by index_mu_
  DependencyCounter deps_;             // guarded by index_mu_

  std::mutex cache_mu_;
  std::unordered_map<std::string, std::string> row_cache_;  // guarded by cache_mu_
  std::atomic<uint64_t> rows_written_{0};
  std::atomic<uint64_t> unreadable_rows_{0};  // stored rows skipped as undecodable, since start
  std::atomic<uint64_t> dropped_retention_{0}, dropped_disk_cap_{0}, disk_bytes_{0};
  std::atomic<uint64_t> blocks_merged_{0}, partitions_finished_{0};
  // Where an unfinished merge of index blocks goes on, by partition. Writer thread.
  std::map<std::string, std::string> merge_resume_;
  // Closed partitions: finished ones, and those queued for (or in) the compactor thread.
  std::mutex compact_mu_;
  std::condition_variable compact_cv_;
  std::set<std::string> finished_, compact_queued_;  // guarded by compact_mu_
  std::deque<Partition> compact_queue_;              // guarded by compact_mu_
  bool compact_stop_ = false;                        // guarded by compact_mu_
  std::thread compactor_;                            // started with the first closed partition
  mutable std::mutex health_mu_;
  absl::Status health_;  // guarded by health_mu_
};

class RocksSpanStore final : public SpanStore {
 public:
  RocksSpanStore(std::unique_ptr<Catalog> catalog, std::shared_ptr<const RetentionPolicy> retention,
                 std::vector<std::unique_ptr<Shard>> shards, bool sync)
      : catalog_(std::move(catalog)),
        retention_(std::move(retention)),
        shards_(std::move(shards)),
        sync_(sync) {}

  int shard_count() const override { return static_cast<int>(shards_.size()); }

  int ShardOf(const common::TraceId& id) const override {
    return static_cast<int>(common::StableHash64(id.AsBytes()) % shards_.size());
  }

  absl::Status Commit(int shard, std::span<const PreparedWrite* const> writes) override {
    if (shard < 0 || shard >= shard_count()) {
      return absl::InvalidArgumentError(fmt::format("commit: no shard {}", shard));
    }
    return shards_[shard]->Commit(writes, sync_);
  }

  void Maintain(int shard) override {
    if (shard >= 0 && shard < shard_count()) shards_[shard]->Maintain();
  }

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) override {
    return shards_[ShardOf(id)]->GetTrace(id);
  }

  absl::StatusOr<std::vector<TraceHit>> FindTraces(const TraceQuery& query) override {
    std::vector<std::string> services =
        query.service.empty() ? catalog_->Services() : std::vector<std::string>{query.service};
    std::vector<TraceHit> all;
    for (const auto& shard : shards_) {
      std::vector<TraceHit> hits;
      SKUA_RETURN_IF_ERROR(shard->Search(query, services, hits));
      all.insert(all.end(), std::make_move_iterator(hits.begin()),
                 std::make_move_iterator(hits.end()));
    }
    KeepNewest(all, static_cast<size_t>(std::max(query.limit, 0)));
    return all;
  }

  std::vector<std::string> Services() override { return catalog_->Services(); }

  std::vector<Operation> Operations(const std::string& service,
                                    const std::string& span_kind) override {
    return catalog_->Operations(service, span_kind);
  }

  std::vector<DependencyLink> Dependencies(int64_t start_ns, int64_t end_ns) override {
    std::map<std::pair<std::string, std::string>, uint64_t> sums;
    for (const auto& s : shards_) s->SumDependencies(start_ns, end_ns, sums);
    std::vector<DependencyLink> out;
    for (const auto& [edge, n] : sums) out.push_back({edge.first, edge.second, n});
    return out;
  }

  uint64_t LiveDataBytes() const override {
    uint64_t total = 0;
    for (const auto& s : shards_) total += s->LiveDataBytes();
    return total;
  }

  StorageStats Stats() const override {
    StorageStats out;
    for (const auto& s : shards_) s->AddStats(out);
    return out;
  }

  PreparedWrite Prepare(std::span<const SpanRef> spans) const override {
    return PrepareWrite(spans, *retention_);
  }

  std::vector<KindUsage> DiskUsageByKind() const override {
    std::map<char, uint64_t> by_tag;
    for (const auto& s : shards_) s->AddUsageByTag(by_tag);
    std::vector<KindUsage> out;
    for (const auto& [tag, bytes] : by_tag) out.push_back({RowKindName(tag), bytes});
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
    return out;
  }

  absl::Status CompactAll() override {
    for (const auto& s : shards_) SKUA_RETURN_IF_ERROR(s->CompactAll());
    return absl::OkStatus();
  }

  absl::Status Health() const override {
    for (const auto& s : shards_) {
      if (auto st = s->Health(); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Catalog> catalog_;
  std::shared_ptr<const RetentionPolicy> retention_;
  std::vector<std::unique_ptr<Shard>> shards_;
  bool sync_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SpanStore>> SpanStore::Open(const config::StorageConfig& config,
                                                           common::Clock& clock) {
  fs::path root(config.path);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return absl::UnavailableError(
        fmt::format("create data directory {}: {}", root.string(), ec.message()));
  }
  int shards = config.shards > 0
                   ? config.shards
                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  fs::path meta_file = root / kMetaFile;
  if (auto meta = ReadMeta(meta_file)) {
    if (meta->format_version != kFormatVersion) {
      return absl::FailedPreconditionError(fmt::format(
          "data directory {} has storage format version {}, this build reads version {}; "
          "use a matching Skua version or a new directory",
          root.string(), meta->format_version, kFormatVersion));
    }
    if (config.shards > 0 && meta->shards != config.shards) {
      return absl::FailedPreconditionError(fmt::format(
          "data directory {} was created with storage.shards={}, but storage.shards={} is "
          "configured; the shard count cannot change for an existing directory (set "
          "storage.shards={} or 0)",
          root.string(), meta->shards, config.shards, meta->shards));
    }
    shards = meta->shards;
  } else {
    if (!fs::is_empty(root, ec)) {
      return absl::FailedPreconditionError(
          fmt::format("data directory {} is not empty and has no {}: not a Skua data directory",
                      root.string(), kMetaFile));
    }
    SKUA_RETURN_IF_ERROR(WriteMeta(meta_file, {kFormatVersion, shards}));
  }

  auto catalog = std::make_unique<Catalog>();
  auto retention = std::make_shared<const RetentionPolicy>(RetentionPolicy::From(config));
  auto cache = rocksdb::NewLRUCache(config.block_cache_size);
  rocksdb::ColumnFamilyOptions cf_options = PartitionOptions(cache, config.memtable_size);
  std::vector<std::unique_ptr<Shard>> opened;
  for (int i = 0; i < shards; ++i) {
    fs::path dir = root / fmt::format("shard-{:03d}", i);
    rocksdb::DBOptions db_options = ShardDbOptions(config.memtable_size, i);
    std::vector<std::string> names;
    // RocksDB reports a missing directory as an error before creating it: create it first.
    std::error_code dir_ec;
    bool fresh = !fs::exists(dir, dir_ec);
    if (fresh) fs::create_directories(dir, dir_ec);
    if (fresh || !rocksdb::DB::ListColumnFamilies(db_options, dir.string(), &names).ok()) {
      names = {rocksdb::kDefaultColumnFamilyName};  // a new shard
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    auto is_index_family = [](const std::string& name) {
      return name.ends_with(kIndexFamilySuffix) &&
             ParsePartitionName(name.substr(0, name.size() - kIndexFamilySuffix.size()));
    };
    for (const auto& name : names) {
      if (name != rocksdb::kDefaultColumnFamilyName && !ParsePartitionName(name) &&
          !is_index_family(name)) {
        return absl::FailedPreconditionError(fmt::format(
            "shard {} at {} has an unknown column family '{}': not written by this Skua version", i,
            dir.string(), name));
      }
      descriptors.emplace_back(name, cf_options);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(db_options, dir.string(), descriptors, &handles, &raw);
    if (!s.ok()) return FromRocks(s, fmt::format("open shard {} at {}", i, dir.string()));
    std::unique_ptr<rocksdb::DB> db(raw);
    std::vector<rocksdb::ColumnFamilyHandle*> partitions;
    std::set<std::string> present(names.begin(), names.end());
    for (auto* h : handles) {
      const std::string& name = h->GetName();
      bool orphan = is_index_family(name) &&
                    !present.contains(name.substr(0, name.size() - kIndexFamilySuffix.size()));
      if (name == rocksdb::kDefaultColumnFamilyName) {
        db->DestroyColumnFamilyHandle(h);  // the DB keeps its own default handle
      } else if (orphan) {
        // Left by a crash while a partition was created or dropped: its data is gone.
        s = db->DropColumnFamily(h);
        db->DestroyColumnFamilyHandle(h);
        if (!s.ok()) return FromRocks(s, fmt::format("shard {}: drop {}", i, name));
      } else {
        partitions.push_back(h);
        if (ParsePartitionName(name) && !present.contains(IndexFamilyName(name))) {
          // A partition written before its index family existed cannot occur (the index
          // family is created first); an index family lost otherwise is recreated empty, and
          // the partition's spans stay readable by trace ID.
          rocksdb::ColumnFamilyHandle* index = nullptr;
          s = db->CreateColumnFamily(cf_options, IndexFamilyName(name), &index);
          if (!s.ok()) return FromRocks(s, fmt::format("shard {}: create index of {}", i, name));
          partitions.push_back(index);
        }
      }
    }
    std::string seq_value;
    uint64_t last_seq = 0;
    s = db->Get(rocksdb::ReadOptions(), SeqKey(), &seq_value);
    if (s.ok() && seq_value.size() == 8) {
      last_seq = DecodeBigEndian64(seq_value);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, fmt::format("read sequence of shard {}", i));
    }
    auto shard = std::make_unique<Shard>(i, dir, std::move(db), std::move(partitions), cf_options,
                                         last_seq, clock, *catalog, retention,
                                         config.max_disk_bytes / static_cast<uint64_t>(shards),
                                         config.min_free_disk_bytes);
    SKUA_RETURN_IF_ERROR(shard->Recover());
    shard->Maintain();  // drop what expired while Skua was down
    opened.push_back(std::move(shard));
  }
  SPDLOG_INFO("storage open: {} ({} shards, format version {}, fsync {}, retention {}s)",
              root.string(), shards, kFormatVersion, config.fsync, retention->default_seconds);
  return std::make_unique<RocksSpanStore>(std::move(catalog), std::move(retention),
                                          std::move(opened), config.fsync);
}

}  // namespace skua::storage
