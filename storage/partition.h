// The time partitions of a shard and their column families' names. Private to storage/.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skua::storage {

// A time partition of a shard: two column families holding what arrived in
// [start_s, start_s + width_s) for data kept retention_s: `cf` for spans (trace chunks,
// resources, scopes) and the catalog rows of their services, and `index_cf` for its search index
// blocks and filters. Apart, the index
// rows (mostly hashes) neither dilute the spans' compression dictionaries nor get one.
// Dropping both reclaims the partition's space at once.
struct Partition {
  int64_t retention_s = 0, width_s = 0, start_s = 0;
  std::string name;
  std::shared_ptr<rocksdb::ColumnFamilyHandle> cf, index_cf;

  // Everything in it is older than the retention: it no longer answers queries.
  bool ExpiredAt(int64_t now_s) const { return start_s + width_s <= now_s - retention_s; }
};

inline constexpr std::string_view kIndexFamilySuffix = "-index";

// Both column families of every partition in `parts`, valid while `parts` is.
std::vector<rocksdb::ColumnFamilyHandle*> FamiliesOf(const std::vector<Partition>& parts);

// The index column family of partition `partition`.
std::string IndexFamilyName(const std::string& partition);

// "r<retention>-w<width>-p<start>", seconds.
std::string PartitionName(int64_t retention_s, int64_t width_s, int64_t start_s);

// The partition a column family name denotes (without handles), or nullopt.
std::optional<Partition> ParsePartitionName(const std::string& name);

}  // namespace skua::storage
