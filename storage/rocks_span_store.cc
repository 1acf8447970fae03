// SpanStore on RocksDB: one database per shard under <path>/shard-NNN, so each shard has its own
// write-ahead log and memtables and its writer never contends with another shard's. This file
// owns the store as a whole: opening the data directory and its shards, routing each call to
// the shards, and merging their answers (storage/shard.h for a shard).

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/hash.h"
#include "common/status_macros.h"
#include "storage/attribute_catalog.h"
#include "storage/catalog.h"
#include "storage/coding.h"
#include "storage/keys.h"
#include "storage/partition.h"
#include "storage/rocks_options.h"
#include "storage/shard.h"
#include "storage/shard_writer.h"
#include "storage/span_store.h"

namespace skua::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kMetaFile[] = "SKUA_META";

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

class RocksSpanStore final : public SpanStore {
 public:
  RocksSpanStore(std::unique_ptr<Catalog> catalog, std::unique_ptr<AttributeCatalog> attributes,
                 std::shared_ptr<const RetentionPolicy> retention,
                 std::vector<std::unique_ptr<Shard>> shards, bool sync,
                 const WriterOptions& writer_options)
      : catalog_(std::move(catalog)),
        attributes_(std::move(attributes)),
        retention_(std::move(retention)),
        shards_(std::move(shards)),
        max_queue_bytes_(writer_options.max_queue_bytes) {
    common::MetricsRegistry* metrics = writer_options.metrics;
    if (metrics == nullptr) {
      own_metrics_ = std::make_unique<common::MetricsRegistry>();
      metrics = own_metrics_.get();
    }
    for (size_t i = 0; i < shards_.size(); ++i) {
      writers_.push_back(std::make_unique<ShardWriter>(
          static_cast<int>(i), *shards_[i], sync, writer_options.max_queue_bytes,
          writer_options.idle_upkeep_interval, *metrics));
    }
  }
  ~RocksSpanStore() override { StopWriters(); }

  int shard_count() const override { return static_cast<int>(shards_.size()); }

  int ShardOf(const common::TraceId& id) const override {
    return static_cast<int>(common::StableHash64(id.AsBytes()) % shards_.size());
  }

  void Submit(std::vector<ShardWrite> writes, Done done) override {
    if (writes.empty()) return done(absl::OkStatus());  // nothing to wait for
    for (const auto& w : writes) {
      if (w.shard < 0 || w.shard >= shard_count()) {
        return done(absl::InvalidArgumentError(fmt::format("submit: no shard {}", w.shard)));
      }
    }
    // All or nothing, so a refused request stored nothing and its retry cannot duplicate spans.
    for (size_t i = 0; i < writes.size(); ++i) {
      ShardWriter& writer = *writers_[writes[i].shard];
      if (!writer.TryReserve(writes[i].write.bytes)) {
        for (size_t j = 0; j < i; ++j) writers_[writes[j].shard]->Release(writes[j].write.bytes);
        return done(absl::ResourceExhaustedError(
            fmt::format("ingest queue of shard {} is full ({} bytes queued, limit {}); retry later",
                        writes[i].shard, writer.Reserved(), max_queue_bytes_)));
      }
    }
    auto completion =
        std::make_shared<WriteCompletion>(static_cast<int>(writes.size()), std::move(done));
    for (auto& w : writes) {
      uint64_t bytes = w.write.bytes;
      ShardWriter& writer = *writers_[w.shard];
      if (!writer.Push(std::move(w.write), completion)) {
        writer.Release(bytes);
        completion->PartDone(absl::UnavailableError("Skua is shutting down"));
      }
    }
  }

  uint64_t QueuedBytes(int shard) const override { return writers_.at(shard)->Reserved(); }

  void StopWriters() override {
    for (auto& w : writers_) w->Stop();
  }

  void RunUpkeep() override {
    for (size_t i = 0; i < shards_.size(); ++i) {
      writers_[i]->RunOnWriter([&] { shards_[i]->Maintain(); });
    }
  }

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const std::string& tenant,
                                                           const common::TraceId& id) override {
    return shards_[ShardOf(id)]->GetTrace(tenant, id);
  }

  absl::StatusOr<std::vector<TraceHit>> FindTraces(const TraceQuery& request) override {
    std::optional<TraceQuery> narrowed = WithFilterHints(request);
    if (!narrowed) return std::vector<TraceHit>{};
    const TraceQuery& query = *narrowed;
    std::vector<std::string> services = query.service.empty()
                                            ? catalog_->Services(query.tenant)
                                            : std::vector<std::string>{query.service};
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

  // The query with what its filter implies (filter::Narrow) added to the conditions the index
  // searches by; nullopt when those contradict the query's own (nothing can match). Every
  // added condition holds for each span the filter accepts, so the answer is unchanged.
  static std::optional<TraceQuery> WithFilterHints(const TraceQuery& q) {
    if (q.filter == nullptr) return q;
    filter::IndexHints hints = filter::Narrow(*q.filter);
    TraceQuery out = q;
    auto adopt = [](std::string& mine, const std::string& implied) {
      if (implied.empty()) return true;
      if (mine.empty()) mine = implied;
      return mine == implied;
    };
    if (!adopt(out.service, hints.service) || !adopt(out.operation, hints.operation)) {
      return std::nullopt;
    }
    out.duration_min_ns = std::max(out.duration_min_ns, hints.duration_min_ns);
    if (hints.duration_max_ns != 0 &&
        (out.duration_max_ns == 0 || hints.duration_max_ns < out.duration_max_ns)) {
      out.duration_max_ns = hints.duration_max_ns;
    }
    if (out.duration_max_ns != 0 && out.duration_min_ns > out.duration_max_ns) return std::nullopt;
    for (auto& term : hints.terms) out.tags.push_back(std::move(term));
    for (auto& group : hints.any_terms) out.any_tags.push_back(std::move(group));
    for (auto& p : hints.patterns) out.patterns.push_back(std::move(p));
    return out;
  }

  std::vector<std::string> Services(const std::string& tenant) override {
    return catalog_->Services(tenant);
  }

  std::vector<Operation> Operations(const std::string& tenant, const std::string& service,
                                    const std::string& span_kind) override {
    return catalog_->Operations(tenant, service, span_kind);
  }

  std::vector<AttributeKeyCount> AttributeKeys(const AttributeQuery& query) override {
    return attributes_->Keys(query);
  }

  AttributeValues AttributeValuesOf(const AttributeQuery& query) override {
    return attributes_->ValuesOf(query);
  }

  std::vector<DependencyLink> Dependencies(const std::string& tenant, int64_t start_ns,
                                           int64_t end_ns) override {
    std::map<std::pair<std::string, std::string>, uint64_t> sums;
    for (const auto& s : shards_) s->SumDependencies(tenant, start_ns, end_ns, sums);
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

  PreparedWrite Prepare(std::string_view tenant, std::span<const SpanRef> spans) const override {
    return PrepareWrite(tenant, spans, *retention_,
                        IndexBatchBuilder(tenant, attributes_->Truncated()));
  }

  std::vector<std::string> Tenants() const override {
    std::set<std::string> all;
    for (const auto& s : shards_) {
      for (auto& t : s->Tenants()) all.insert(std::move(t));
    }
    return {all.begin(), all.end()};
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
    for (size_t i = 0; i < shards_.size(); ++i) {
      absl::Status st;
      writers_[i]->RunOnWriter([&] { st = shards_[i]->CompactAll(); });
      SKUA_RETURN_IF_ERROR(st);
    }
    return absl::OkStatus();
  }

  absl::Status Purge() override {
    for (size_t i = 0; i < shards_.size(); ++i) {
      absl::Status st;
      writers_[i]->RunOnWriter([&] { st = shards_[i]->Purge(); });
      SKUA_RETURN_IF_ERROR(st);
    }
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
  std::unique_ptr<AttributeCatalog> attributes_;
  std::shared_ptr<const RetentionPolicy> retention_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<common::MetricsRegistry> own_metrics_;
  uint64_t max_queue_bytes_ = 0;
  // Last: stopped and destroyed before the shards they write to.
  std::vector<std::unique_ptr<ShardWriter>> writers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SpanStore>> SpanStore::Open(const config::StorageConfig& config,
                                                           common::Clock& clock,
                                                           const WriterOptions& writers) {
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
  auto attributes = std::make_unique<AttributeCatalog>();
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
    Shard::Limits limits{config.max_disk_bytes / static_cast<uint64_t>(shards),
                         config.min_free_disk_bytes};
    auto shard = std::make_unique<Shard>(i, dir, std::move(db), partitions, cf_options, last_seq,
                                         clock, *catalog, *attributes, retention, limits);
    SKUA_RETURN_IF_ERROR(shard->Recover());
    shard->Maintain();  // drop what expired while Skua was down
    opened.push_back(std::move(shard));
  }
  SPDLOG_INFO("storage open: {} ({} shards, format version {}, fsync {}, retention {}s)",
              root.string(), shards, kFormatVersion, config.fsync, retention->default_seconds);
  return std::make_unique<RocksSpanStore>(std::move(catalog), std::move(attributes),
                                          std::move(retention), std::move(opened), config.fsync,
                                          writers);
}

}  // namespace skua::storage
