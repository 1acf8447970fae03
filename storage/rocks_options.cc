// RocksDB options of shards and partitions, RocksDB's log routed to Skua's, and RocksDB
// statuses as absl::Status.

#include "storage/rocks_options.h"

#include <fmt/format.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "common/log_limiter.h"
#include "storage/keys.h"

namespace skua::storage {

rocksdb::WriteOptions WriteThatMayOutliveItsPartition() {
  rocksdb::WriteOptions o;
  o.ignore_missing_column_families = true;
  return o;
}

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = fmt::format("{}: {}", what, s.ToString());
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  return absl::UnavailableError(msg);
}

rocksdb::ColumnFamilyOptions PartitionOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                              uint64_t memtable_size) {
  rocksdb::ColumnFamilyOptions o;
  o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kTracePrefixLength));
  o.memtable_prefix_bloom_size_ratio = 0.05;
  o.write_buffer_size = std::min<uint64_t>(32 << 20, memtable_size / 3);
  o.max_write_buffer_number = 3;
  o.compression = rocksdb::kLZ4Compression;
  o.bottommost_compression = rocksdb::kZSTD;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.whole_key_filtering = true;
  t.block_size = 16 << 10;
  t.format_version = 5;
  t.checksum = rocksdb::kXXH3;  // faster than this build's CRC32C
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

namespace {

// RocksDB's own log lines, warnings and worse only, to Skua's log instead of a LOG file in the
// data directory. Besides keeping the data directory to data, this matters on a full disk: the
// assertion-enabled RocksDB of Debian aborts the process when it logs to a LOG file whose
// earlier write failed (ENOSPC), from whatever thread (a flush) logs next.
class RocksLogger final : public rocksdb::Logger {
 public:
  explicit RocksLogger(int shard)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), shard_(shard) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    uint64_t n = 0;
    if (!limiter_.Allow(&n)) return;  // a full disk makes RocksDB repeat itself
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      SPDLOG_ERROR("shard {}: rocksdb ({} line(s) in 10 s, last): {}", shard_, n, buf);
    } else {
      SPDLOG_WARN("shard {}: rocksdb ({} line(s) in 10 s, last): {}", shard_, n, buf);
    }
  }

 private:
  const int shard_;
  common::LogLimiter limiter_{std::chrono::seconds(10)};
};

}  // namespace

rocksdb::DBOptions ShardDbOptions(uint64_t memtable_size, int shard) {
  rocksdb::DBOptions o;
  o.info_log = std::make_shared<RocksLogger>(shard);
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.bytes_per_sync = 1 << 20;
  // Partitions no longer written to still hold memtables; flushing them when the WAL grows past
  // this keeps the WAL (and restart replay) short.
  o.max_total_wal_size = 256 << 20;
  // All memtables of a shard together (bounds memory however many partitions are written).
  o.db_write_buffer_size = memtable_size;
  return o;
}

}  // namespace skua::storage
