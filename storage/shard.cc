// A shard's life (opening its partitions, closing cleanly), its statistics, and the helpers
// every concern of it shares.

#include "storage/shard.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "storage/keys.h"

namespace skua::storage {
namespace {

// Bound on the decoded resource/scope rows cached for reads.
constexpr size_t kMaxCachedRows = 1 << 14;

}  // namespace

void KeepNewest(std::vector<TraceHit>& hits, size_t limit) {
  std::sort(hits.begin(), hits.end(), [](const TraceHit& a, const TraceHit& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.trace_id < b.trace_id;
  });
  if (hits.size() > limit) hits.resize(limit);
}

Shard::Shard(int id, std::filesystem::path dir, std::unique_ptr<rocksdb::DB> db,
             const std::vector<rocksdb::ColumnFamilyHandle*>& families,
             rocksdb::ColumnFamilyOptions family_options, uint64_t last_seq, common::Clock& clock,
             Catalog& catalog, AttributeCatalog& attributes,
             std::shared_ptr<const RetentionPolicy> retention, Limits limits)
    : id_(id),
      dir_(std::move(dir)),
      db_(std::move(db)),
      clock_(clock),
      catalog_(catalog),
      attributes_(attributes),
      retention_(std::move(retention)),
      limits_(limits),
      seal_policy_(SealPolicyFor(*retention_)),
      partitions_(*db_, std::move(family_options), id, families),
      row_cache_(kMaxCachedRows),
      health_(id),
      next_seq_(last_seq + 1),
      compactor_(
          id,
          [this](const Partition& p) -> absl::Status {
            absl::Status st = CompactPartition(p);
            return st.ok() ? MarkFinished(p) : st;
          },
          [this](const std::string& name) {
            for (const auto& p : partitions_.All()) {
              if (p.name == name) return true;
            }
            return false;
          }) {}

Shard::~Shard() {
  compactor_.Stop([this] { db_->DisableManualCompaction(); });  // returns at once
  MaybeSeal(true, clock_.NowNanos());
  if (keeps_attribute_rows()) KeepAttributeRows(false);
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  auto parts = partitions_.All();
  all = FamiliesOf(parts);
  all.push_back(db_->DefaultColumnFamily());
  if (auto s = db_->Flush(rocksdb::FlushOptions(), all); !s.ok()) {
    SPDLOG_WARN("shard {}: flush at close: {}", id_, s.ToString());
  }
}

uint64_t Shard::LiveDataBytes() const {
  uint64_t total = 0;
  auto parts = partitions_.All();
  for (auto* cf : FamiliesOf(parts)) {
    uint64_t live = 0, mem = 0;
    db_->GetIntProperty(cf, "rocksdb.estimate-live-data-size", &live);
    db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &mem);
    total += live + mem;
  }
  return total;
}

void Shard::AddUsageByTag(std::map<char, uint64_t>& out) const {
  auto parts = partitions_.All();
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

void Shard::AddStats(StorageStats& s) const {
  auto parts = partitions_.All();
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

// A catalog row key is C service \0 operation \0 kind: the kind is the last byte (and may
// itself be 0).
void Shard::EditCatalog(const std::string& tenant, std::string_view key, bool add) {
  std::string_view k = key.substr(1);
  auto a = k.find('\0');
  if (a == std::string_view::npos || k.size() < a + 3 || k[k.size() - 2] != '\0') return;
  std::string service(k.substr(0, a)), operation(k.substr(a + 1, k.size() - 2 - a - 1));
  auto kind = static_cast<uint8_t>(k.back());
  if (add) {
    catalog_.Add(tenant, service, operation, kind);
  } else {
    catalog_.Remove(tenant, service, operation, kind);
  }
}

// A stored row that cannot be decoded (bit rot, a bug, a format this build does not know):
// counted and logged; the caller leaves it out and goes on.
void Shard::Unreadable(std::string_view what) {
  unreadable_rows_.fetch_add(1, std::memory_order_relaxed);
  SPDLOG_WARN("shard {}: unreadable row skipped: {}", id_, what);
}

std::vector<Partition> Shard::LivePartitions(std::string_view tenant) const {
  return partitions_.LiveAt(tenant, clock_.NowNanos() / 1'000'000'000);
}

}  // namespace skua::storage
