#include "storage/partition.h"

#include <fmt/format.h>

#include <cstdio>

namespace skua::storage {

std::vector<rocksdb::ColumnFamilyHandle*> FamiliesOf(const std::vector<Partition>& parts) {
  std::vector<rocksdb::ColumnFamilyHandle*> out;
  for (const auto& p : parts) {
    out.push_back(p.cf.get());
    out.push_back(p.index_cf.get());
  }
  return out;
}

std::string IndexFamilyName(const std::string& partition) {
  return partition + std::string(kIndexFamilySuffix);
}

std::string PartitionName(int64_t retention_s, int64_t width_s, int64_t start_s) {
  return fmt::format("r{}-w{}-p{}", retention_s, width_s, start_s);
}

std::optional<Partition> ParsePartitionName(const std::string& name) {
  Partition p;
  if (std::sscanf(name.c_str(), "r%ld-w%ld-p%ld", &p.retention_s, &p.width_s, &p.start_s) != 3 ||
      PartitionName(p.retention_s, p.width_s, p.start_s) != name || p.width_s <= 0) {
    return std::nullopt;
  }
  p.name = name;
  return p;
}

}  // namespace skua::storage
