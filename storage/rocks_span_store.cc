// SpanStore on RocksDB: one database per shard under <path>/shard-NNN, so each shard has its own
// write-ahead log and memtables and its writer never contends with another shard's.

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/hash.h"
#include "common/status_macros.h"
#include "skua/storage.pb.h"
#include "storage/keys.h"
#include "storage/span_store.h"

namespace skua::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kMetaFile[] = "SKUA_META";
// Bounds on the per-shard memo of resource/scope ids already written (writer side) and on the
// decoded resource/scope cache (reader side). Past the bound the set is simply cleared: the cost
// is a few redundant identical Puts or Gets, never a wrong answer.
constexpr size_t kMaxKnownIds = 1 << 16;
constexpr size_t kMaxCachedRows = 1 << 14;

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = fmt::format("{}: {}", what, s.ToString());
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  return absl::UnavailableError(msg);
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

rocksdb::Options ShardOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kTracePrefixLength));
  o.memtable_prefix_bloom_size_ratio = 0.05;
  o.write_buffer_size = 64 << 20;
  o.max_write_buffer_number = 3;
  o.compression = rocksdb::kLZ4Compression;
  o.bottommost_compression = rocksdb::kZSTD;
  o.max_background_jobs = 2;
  o.bytes_per_sync = 1 << 20;
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.whole_key_filtering = true;
  t.block_size = 16 << 10;
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

class Shard {
 public:
  Shard(std::unique_ptr<rocksdb::DB> db, uint64_t last_seq)
      : db_(std::move(db)), next_seq_(last_seq + 1) {}

  absl::Status Commit(std::span<const PreparedWrite* const> writes, bool sync) {
    rocksdb::WriteBatch batch;
    std::vector<uint64_t> new_resources, new_scopes;
    size_t spans = 0;
    for (const PreparedWrite* w : writes) {
      for (const auto& [id, value] : w->resources) {
        if (known_resources_.insert(id).second) {
          new_resources.push_back(id);
          batch.Put(ResourceKey(id), value);
        }
      }
      for (const auto& [id, value] : w->scopes) {
        if (known_scopes_.insert(id).second) {
          new_scopes.push_back(id);
          batch.Put(ScopeKey(id), value);
        }
      }
      uint64_t seq = next_seq_++;
      for (const auto& c : w->chunks) batch.Put(TraceChunkKey(c.trace_id, seq), c.value);
      spans += w->span_count;
    }
    std::string seq_value;
    AppendBigEndian64(seq_value, next_seq_ - 1);
    batch.Put(SeqKey(), seq_value);
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) {
      // Not written: forget the ids so a later batch writes those rows.
      for (auto id : new_resources) known_resources_.erase(id);
      for (auto id : new_scopes) known_scopes_.erase(id);
      return FromRocks(s, fmt::format("write batch ({} spans, {} requests)", spans, writes.size()));
    }
    if (known_resources_.size() > kMaxKnownIds) known_resources_.clear();
    if (known_scopes_.size() > kMaxKnownIds) known_scopes_.clear();
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) {
    std::string prefix = TracePrefix(id);
    rocksdb::ReadOptions ro;
    ro.prefix_same_as_start = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));

    struct GroupKey {
      uint64_t resource_id, scope_id;
      bool operator==(const GroupKey&) const = default;
    };
    struct GroupKeyHash {
      size_t operator()(const GroupKey& k) const { return k.resource_id * 31 ^ k.scope_id; }
    };
    // Groups in first-seen order; spans deduplicated by exact encoding.
    std::vector<std::pair<GroupKey, std::vector<std::string>>> groups;
    std::unordered_map<GroupKey, size_t, GroupKeyHash> group_index;
    std::unordered_set<std::string> seen_spans;
    skua::storage::TraceChunk chunk;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!chunk.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(
            fmt::format("trace {}: undecodable chunk", common::FormatTraceId32(id)));
      }
      for (auto& g : *chunk.mutable_groups()) {
        GroupKey key{g.resource_id(), g.scope_id()};
        auto [gi, inserted] = group_index.try_emplace(key, groups.size());
        if (inserted) groups.push_back({key, {}});
        for (const auto& span : g.spans()) {
          std::string bytes = span.SerializeAsString();
          if (seen_spans.insert(bytes).second) groups[gi->second].second.push_back(bytes);
        }
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read trace");
    if (groups.empty()) return std::nullopt;

    otlp::TracesData out;
    std::unordered_map<uint64_t, otlp::ResourceSpans*> by_resource;
    for (auto& [key, spans] : groups) {
      otlp::ResourceSpans*& rs = by_resource[key.resource_id];
      if (rs == nullptr) {
        rs = out.add_resource_spans();
        auto row = ReadRow(ResourceKey(key.resource_id));
        if (!row.ok()) return row.status();
        if (!rs->ParseFromString(*row)) {
          return absl::DataLossError(fmt::format("resource {:016x}: undecodable", key.resource_id));
        }
      }
      auto row = ReadRow(ScopeKey(key.scope_id));
      if (!row.ok()) return row.status();
      otlp::ScopeSpans* ss = rs->add_scope_spans();
      if (!ss->ParseFromString(*row)) {
        return absl::DataLossError(fmt::format("scope {:016x}: undecodable", key.scope_id));
      }
      for (const auto& bytes : spans) {
        if (!ss->add_spans()->ParseFromString(bytes)) {
          return absl::DataLossError("span: undecodable");
        }
      }
    }
    return out;
  }

  uint64_t LiveDataBytes() const {
    uint64_t live = 0, mem = 0;
    db_->GetIntProperty("rocksdb.estimate-live-data-size", &live);
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    return live + mem;
  }

 private:
  // A resource or scope row, through a small cache (rows are immutable once written).
  absl::StatusOr<std::string> ReadRow(const std::string& key) {
    {
      std::lock_guard lock(cache_mu_);
      auto it = row_cache_.find(key);
      if (it != row_cache_.end()) return it->second;
    }
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) {
      return absl::DataLossError(fmt::format("missing row {}", common::HexEncode(key)));
    }
    if (!s.ok()) return FromRocks(s, "read row");
    std::lock_guard lock(cache_mu_);
    if (row_cache_.size() > kMaxCachedRows) row_cache_.clear();
    row_cache_.emplace(key, value);
    return value;
  }

  std::unique_ptr<rocksdb::DB> db_;
  // Writer-thread state (Commit never runs concurrently for one shard).
  uint64_t next_seq_;
  std::unordered_set<uint64_t> known_resources_;
  std::unordered_set<uint64_t> known_scopes_;

  std::mutex cache_mu_;
  std::unordered_map<std::string, std::string> row_cache_;  // guarded by cache_mu_
};

class RocksSpanStore final : public SpanStore {
 public:
  RocksSpanStore(std::vector<std::unique_ptr<Shard>> shards, bool sync)
      : shards_(std::move(shards)), sync_(sync) {}

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

  absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) override {
    return shards_[ShardOf(id)]->GetTrace(id);
  }

  uint64_t LiveDataBytes() const override {
    uint64_t total = 0;
    for (const auto& s : shards_) total += s->LiveDataBytes();
    return total;
  }

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
  bool sync_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SpanStore>> SpanStore::Open(const config::StorageConfig& config) {
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
    if (auto st = WriteMeta(meta_file, {kFormatVersion, shards}); !st.ok()) return st;
  }

  std::vector<std::unique_ptr<Shard>> opened;
  for (int i = 0; i < shards; ++i) {
    fs::path dir = root / fmt::format("shard-{:03d}", i);
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(ShardOptions(), dir.string(), &raw);
    if (!s.ok()) return FromRocks(s, fmt::format("open shard {} at {}", i, dir.string()));
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string seq_value;
    uint64_t last_seq = 0;
    s = db->Get(rocksdb::ReadOptions(), SeqKey(), &seq_value);
    if (s.ok() && seq_value.size() == 8) {
      last_seq = DecodeBigEndian64(seq_value);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, fmt::format("read sequence of shard {}", i));
    }
    opened.push_back(std::make_unique<Shard>(std::move(db), last_seq));
  }
  SPDLOG_INFO("storage open: {} ({} shards, format version {}, fsync {})", root.string(), shards,
              kFormatVersion, config.fsync);
  return std::make_unique<RocksSpanStore>(std::move(opened), config.fsync);
}

}  // namespace skua::storage
