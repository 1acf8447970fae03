// Time partitions: their column families' names, and the set of them a shard holds.

#include "storage/partition.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "common/status_macros.h"
#include "storage/rocks_options.h"
#include "storage/span_store.h"

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

int64_t ExpiredArrivalsBefore(int64_t retention_s, int64_t now_s) {
  // A partition starting at p expires when p + width <= now - retention, so an arrival at t
  // (in the partition starting at floor(t / width) * width) is expired exactly when t is below
  // the partition start at or before now - retention.
  int64_t width = PartitionWidthSeconds(retention_s);
  int64_t edge = now_s - retention_s;
  return edge - ((edge % width) + width) % width;
}

std::string PartitionName(std::string_view tenant, int64_t retention_s, int64_t width_s,
                          int64_t start_s) {
  std::string out;
  if (!tenant.empty()) {
    // Hex keeps any tenant ID a valid, unambiguous family name.
    out = "t";
    for (unsigned char c : tenant) out += fmt::format("{:02x}", c);
    out += "-";
  }
  out += fmt::format("r{}-w{}-p{}", retention_s, width_s, start_s);
  return out;
}

std::optional<Partition> ParsePartitionName(const std::string& name) {
  Partition p;
  std::string_view rest = name;
  if (rest.starts_with('t')) {
    auto dash = rest.find('-');
    if (dash == std::string_view::npos || dash == 1 || dash % 2 == 0) return std::nullopt;
    for (size_t i = 1; i < dash; i += 2) {
      unsigned byte = 0;
      if (std::sscanf(std::string(rest.substr(i, 2)).c_str(), "%2x", &byte) != 1) {
        return std::nullopt;
      }
      p.tenant.push_back(static_cast<char>(byte));
    }
    rest.remove_prefix(dash + 1);
  }
  if (std::sscanf(std::string(rest).c_str(), "r%ld-w%ld-p%ld", &p.retention_s, &p.width_s,
                  &p.start_s) != 3 ||
      PartitionName(p.tenant, p.retention_s, p.width_s, p.start_s) != name || p.width_s <= 0) {
    return std::nullopt;
  }
  p.name = name;
  return p;
}

PartitionSet::PartitionSet(rocksdb::DB& db, rocksdb::ColumnFamilyOptions options, int shard_id,
                           const std::vector<rocksdb::ColumnFamilyHandle*>& families)
    : db_(db), options_(std::move(options)), shard_id_(shard_id) {
  std::map<std::string, rocksdb::ColumnFamilyHandle*> index_families;
  for (auto* h : families) {
    if (h->GetName().ends_with(kIndexFamilySuffix)) index_families[h->GetName()] = h;
  }
  for (auto* h : families) {
    auto p = ParsePartitionName(h->GetName());
    if (!p) continue;
    p->cf = Adopt(h);
    p->index_cf = Adopt(index_families.at(IndexFamilyName(p->name)));
    parts_.push_back(std::move(*p));
  }
  SortLocked();
}

std::vector<Partition> PartitionSet::All() const {
  std::shared_lock lock(mu_);
  return parts_;
}

std::vector<Partition> PartitionSet::LiveAt(std::string_view tenant, int64_t now_s) const {
  std::vector<Partition> out;
  std::shared_lock lock(mu_);
  for (const auto& p : parts_) {
    if (p.tenant == tenant && !p.ExpiredAt(now_s)) out.push_back(p);
  }
  return out;
}

std::vector<std::string> PartitionSet::Tenants() const {
  std::set<std::string> out;
  std::shared_lock lock(mu_);
  for (const auto& p : parts_) out.insert(p.tenant);
  return {out.begin(), out.end()};
}

absl::StatusOr<Partition> PartitionSet::GetOrCreate(std::string_view tenant, int64_t retention_s,
                                                    int64_t now_s) {
  int64_t width = PartitionWidthSeconds(retention_s);
  std::string name = PartitionName(tenant, retention_s, width, now_s - now_s % width);
  {
    std::shared_lock lock(mu_);
    for (const auto& p : parts_) {
      if (p.name == name) return p;
    }
  }
  rocksdb::ColumnFamilyHandle *h = nullptr, *index = nullptr;
  auto s = db_.CreateColumnFamily(options_, IndexFamilyName(name), &index);
  if (!s.ok()) return FromRocks(s, fmt::format("create partition {}", name));
  auto index_handle = Adopt(index);
  s = db_.CreateColumnFamily(options_, name, &h);
  if (!s.ok()) {
    if (auto d = db_.DropColumnFamily(index); !d.ok()) {
      SPDLOG_WARN("shard {}: drop {}: {}", shard_id_, IndexFamilyName(name), d.ToString());
    }
    return FromRocks(s, fmt::format("create partition {}", name));
  }
  Partition p = *ParsePartitionName(name);
  p.cf = Adopt(h);
  p.index_cf = std::move(index_handle);
  std::unique_lock lock(mu_);
  parts_.push_back(p);
  SortLocked();
  return p;
}

absl::Status PartitionSet::Drop(const Partition& p) {
  {
    std::unique_lock lock(mu_);
    auto it = std::find_if(parts_.begin(), parts_.end(),
                           [&](const Partition& x) { return x.name == p.name; });
    if (it == parts_.end()) return absl::NotFoundError(fmt::format("partition {}", p.name));
    parts_.erase(it);
  }
  // Data first: a crash between the two leaves an index family without data, which opening
  // drops.
  for (auto* cf : {p.cf.get(), p.index_cf.get()}) {
    if (auto s = db_.DropColumnFamily(cf); !s.ok()) {
      return FromRocks(s, fmt::format("drop partition {}", cf->GetName()));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<rocksdb::ColumnFamilyHandle> PartitionSet::Adopt(rocksdb::ColumnFamilyHandle* h) {
  rocksdb::DB* db = &db_;
  return std::shared_ptr<rocksdb::ColumnFamilyHandle>(
      h, [db](rocksdb::ColumnFamilyHandle* p) { db->DestroyColumnFamilyHandle(p); });
}

void PartitionSet::SortLocked() {
  std::sort(parts_.begin(), parts_.end(), [](const Partition& a, const Partition& b) {
    return a.start_s != b.start_s ? a.start_s > b.start_s : a.name < b.name;
  });
}

}  // namespace skua::storage
