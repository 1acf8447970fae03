// A shard of the store: one RocksDB database (its own write-ahead log and memtables) holding the
// spans of the traces hashed to it, their search index and dependency counts. Private to
// storage/.
//
// Who does what. The shard's writer thread (the ingest pipeline's, one per shard) calls Commit
// and Maintain, never both at once; it alone touches the writer state below. Searches and
// reads come from any thread. Each piece of state shared between them has its own class with
// its own lock: the partition set (PartitionSet), the open index and dependency counts
// (OpenIndex), the cache of resource and scope rows (RowCache), the write health (WriteHealth),
// and the compactor thread with its record of finished partitions (Compactor). No two of
// these locks are ever held together.
//
// The implementation is split by concern: shard.cc (life, statistics), shard_write.cc (commit,
// sealing), shard_read.cc (a trace by ID), shard_search.cc (searches), shard_upkeep.cc
// (retention, disk cap, merging and compacting closed partitions), shard_recovery.cc (start:
// catalog, dependency counts, replay of the index log).
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "storage/attribute_catalog.h"
#include "storage/catalog.h"
#include "storage/compactor.h"
#include "storage/index.h"
#include "storage/open_index.h"
#include "storage/partition.h"
#include "storage/row_cache.h"
#include "storage/span_store.h"
#include "storage/write_health.h"

namespace skua::storage {

// Keeps the `limit` traces whose newest matching span started last, newest first, ties by trace
// ID (the order of a search's answer: docs/api.md, "Search semantics").
void KeepNewest(std::vector<TraceHit>& hits, size_t limit);

class Shard {
 public:
  struct Limits {
    uint64_t max_disk_bytes = 0;  // this shard's share of storage.max_disk_bytes; 0 = none
    uint64_t min_free_disk_bytes = 0;
  };
  // `families`: every partition's two column families of `db`; `last_seq`: the sequence number
  // of the last committed request. `clock`, `catalog`, `attributes` must outlive the shard.
  // Every shard adds to the attribute catalog; shard 0 keeps its rows (in its default column
  // family) and expires it.
  Shard(int id, std::filesystem::path dir, std::unique_ptr<rocksdb::DB> db,
        const std::vector<rocksdb::ColumnFamilyHandle*>& families,
        rocksdb::ColumnFamilyOptions family_options, uint64_t last_seq, common::Clock& clock,
        Catalog& catalog, AttributeCatalog& attributes,
        std::shared_ptr<const RetentionPolicy> retention, Limits limits);
  // A clean close seals the open index blocks and flushes the memtables, so the next start
  // replays nothing and the write-ahead log holds no second copy of the data.
  ~Shard();

  // Start (shard_recovery.cc): loads the catalog and dependency rows and replays unsealed
  // index entries.
  absl::Status Recover();

  // Writer thread (shard_write.cc, shard_upkeep.cc): see SpanWriter::Commit and Maintain.
  absl::Status Commit(std::span<const PreparedWrite* const> writes, bool sync);
  void Maintain();

  // Any thread.
  absl::Status Search(const TraceQuery& q, const std::vector<std::string>& services,
                      std::vector<TraceHit>& out);
  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const std::string& tenant,
                                                           const common::TraceId& id);
  void SumDependencies(const std::string& tenant, int64_t start_ns, int64_t end_ns,
                       std::map<std::pair<std::string, std::string>, uint64_t>& out) const {
    open_index_.SumDependencies(tenant, start_ns, end_ns, out);
  }
  std::vector<std::string> Tenants() const { return partitions_.Tenants(); }
  absl::Status Health() const { return health_.Get(); }
  uint64_t LiveDataBytes() const;
  void AddStats(StorageStats& s) const;
  // Adds the approximate SST bytes of each key tag's range, every column family.
  void AddUsageByTag(std::map<char, uint64_t>& out) const;

  // Offline (`skua --compact`; no writer running).
  absl::Status CompactAll();

  // Writer thread (shard_upkeep.cc): see StoreAdmin::Purge.
  absl::Status Purge();

 private:
  // shard_write.cc
  void MaybeSeal(bool force, int64_t now_ns);
  absl::Status CheckFreeSpace() const;
  bool Resume();
  static OpenIndex::SealPolicy SealPolicyFor(const RetentionPolicy& retention);

  // shard_read.cc
  absl::Status ReadRowInto(const Partition& part, const std::string& key,
                           google::protobuf::MessageLite& out);
  absl::StatusOr<std::string> ReadRow(const Partition& part, const std::string& key);

  // shard_search.cc
  absl::Status WalkIndex(const TraceQuery& q, const std::vector<std::string>& services, Hits& hits);
  absl::Status CheckDeadline(const TraceQuery& q) const;

  // shard_upkeep.cc
  bool PartitionClosed(const Partition& p, int64_t now_s) const;
  absl::Status MarkFinished(const Partition& p);
  void FinishClosedPartition(int64_t now_s);
  absl::StatusOr<bool> MergeBlocks(const Partition& p, size_t budget);
  absl::Status CompactPartition(const Partition& p);
  void Drop(const Partition& p, std::string_view reason, std::atomic<uint64_t>& counter);
  void ExpireDependencies(int64_t now_s);
  void DropOverDiskCap(int64_t now_s);

  // shard_recovery.cc
  absl::StatusOr<IndexBatch> Reindex(std::string_view log, uint64_t seq);

  // shard.cc
  void EditCatalog(const std::string& tenant, std::string_view key, bool add);
  // Shard 0: writes the attribute catalog's changed services (after expiring it).
  void KeepAttributeRows(bool expire);
  bool keeps_attribute_rows() const { return id_ == 0; }
  void Unreadable(std::string_view what);
  std::vector<Partition> LivePartitions(std::string_view tenant) const;

  const int id_;
  const std::filesystem::path dir_;
  const std::unique_ptr<rocksdb::DB> db_;
  common::Clock& clock_;
  Catalog& catalog_;
  AttributeCatalog& attributes_;
  const std::shared_ptr<const RetentionPolicy> retention_;
  const Limits limits_;
  const OpenIndex::SealPolicy seal_policy_;  // of retention_, which never changes

  // Shared with readers, each behind its own lock. Declared after the database: destroyed
  // before it.
  PartitionSet partitions_;
  OpenIndex open_index_;
  RowCache row_cache_;
  WriteHealth health_;

  // Writer-thread state.
  uint64_t next_seq_;
  int64_t last_maintain_s_ = 0;
  int64_t last_resume_s_ = 0;
  int64_t deps_expired_before_ = 0;
  int64_t attribute_rows_kept_s_ = 0;
  // Resource and scope row ids already written, per partition + row tag.
  std::unordered_map<std::string, std::unordered_set<uint64_t>> known_rows_;
  // The catalog rows of each partition (by name; the tenant is in the name).
  std::map<std::string, std::unordered_set<std::string>> catalog_rows_;
  // Where an unfinished merge of index blocks goes on, by partition.
  std::map<std::string, std::string> merge_resume_;

  // Counters for StorageStats.
  std::atomic<uint64_t> rows_written_{0};
  std::atomic<uint64_t> unreadable_rows_{0};  // stored rows skipped as undecodable, since start
  std::atomic<uint64_t> dropped_retention_{0}, dropped_disk_cap_{0}, disk_bytes_{0};
  std::atomic<uint64_t> blocks_merged_{0}, partitions_finished_{0};

  // Last: its thread, which uses everything above, is stopped first.
  Compactor compactor_;
};

}  // namespace skua::storage
