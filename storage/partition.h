// The time partitions of a shard: their column families' names, and the set a shard holds
// (PartitionSet, which owns its lock and the families' handles). Private to storage/.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skua::storage {

// A time partition of a shard: two column families holding what of one tenant arrived in
// [start_s, start_s + width_s) for data kept retention_s: `cf` for spans (trace chunks,
// resources, scopes) and the catalog rows of their services, and `index_cf` for its search index
// blocks and filters. Apart, the index
// rows (mostly hashes) neither dilute the spans' compression dictionaries nor get one.
// Dropping both reclaims the partition's space at once.
struct Partition {
  std::string tenant;  // whose data ("" = no tenancy)
  int64_t retention_s = 0, width_s = 0, start_s = 0;
  std::string name;
  std::shared_ptr<rocksdb::ColumnFamilyHandle> cf, index_cf;

  // Everything in it is older than the retention: it no longer answers queries.
  bool ExpiredAt(int64_t now_s) const { return start_s + width_s <= now_s - retention_s; }
};

// ExpiredAt's rule as a bound on arrival time: whatever of data kept `retention_s` arrived
// before this second lies in a partition that has expired at `now_s`.
int64_t ExpiredArrivalsBefore(int64_t retention_s, int64_t now_s);

inline constexpr std::string_view kIndexFamilySuffix = "-index";

// Both column families of every partition in `parts`, valid while `parts` is.
std::vector<rocksdb::ColumnFamilyHandle*> FamiliesOf(const std::vector<Partition>& parts);

// The index column family of partition `partition`.
std::string IndexFamilyName(const std::string& partition);

// "r<retention>-w<width>-p<start>" (seconds) without a tenant, else
// "t<tenant as lowercase hex>-r<retention>-w<width>-p<start>".
std::string PartitionName(std::string_view tenant, int64_t retention_s, int64_t width_s,
                          int64_t start_s);

// The partition a column family name denotes (without handles), or nullopt.
std::optional<Partition> ParsePartitionName(const std::string& name);

// The partitions of one shard's database. Readers take copies (which share the handles, still
// usable after a drop); only the shard's writer thread creates or drops partitions. The set
// must be destroyed before the database.
class PartitionSet {
 public:
  // `families`: every partition's two column families, as the database was opened with them.
  PartitionSet(rocksdb::DB& db, rocksdb::ColumnFamilyOptions options, int shard_id,
               const std::vector<rocksdb::ColumnFamilyHandle*>& families);

  // Newest first (then by name).
  std::vector<Partition> All() const;
  // Those of `tenant` not expired at `now_s`, newest first.
  std::vector<Partition> LiveAt(std::string_view tenant, int64_t now_s) const;
  // The tenants with partitions.
  std::vector<std::string> Tenants() const;

  // The partition receiving data of `tenant` kept `retention_s` at `now_s`, created if needed (the
  // index family first: a crash between the two leaves an index family without data, which opening
  // drops, never data without its index family). Writer thread only.
  absl::StatusOr<Partition> GetOrCreate(std::string_view tenant, int64_t retention_s,
                                        int64_t now_s);

  // Removes `p` from the set and drops its families, data first. kNotFound if it is not in the
  // set (dropped already). Writer thread only.
  absl::Status Drop(const Partition& p);

 private:
  std::shared_ptr<rocksdb::ColumnFamilyHandle> Adopt(rocksdb::ColumnFamilyHandle* h);
  void SortLocked();

  rocksdb::DB& db_;
  const rocksdb::ColumnFamilyOptions options_;
  const int shard_id_;
  mutable std::shared_mutex mu_;
  std::vector<Partition> parts_;  // guarded by mu_
};

}  // namespace skua::storage
