// RocksDB settings of a shard's database and its column families, RocksDB's log routed to
// Skua's, and RocksDB statuses as absl::Status. Private to storage/.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"

namespace skua::storage {

// `s` as an absl::Status with `what` as context: InvalidArgument and DataLoss (corruption) keep
// their meaning, anything else is Unavailable (retryable: I/O, no space).
absl::Status FromRocks(const rocksdb::Status& s, std::string_view what);

// Options of a write that may reach a partition another thread has dropped meanwhile (the
// compactor's finished marker; the writer thread drops partitions). With RocksDB's defaults
// such a write fails as a memtable error, which RocksDB keeps as a background error: every
// later write of the database is refused until it is reopened. Writes to families that are
// gone are skipped instead: a dropped partition needs nothing more.
rocksdb::WriteOptions WriteThatMayOutliveItsPartition();

// Options of every column family (time partitions and the default one holding sequence
// numbers, the index log and dependency counts).
rocksdb::ColumnFamilyOptions PartitionOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                              uint64_t memtable_size);

// Options of shard `shard`'s database; its log lines go to Skua's log (RocksLogger).
rocksdb::DBOptions ShardDbOptions(uint64_t memtable_size, int shard);

// zstd level 6 with a dictionary per SST file (up to 64 KiB, trained on 1 MiB of samples of its
// blocks): attribute keys, recurring values and field framing repeat across 16 KiB blocks, not
// within one. Training costs CPU and buffers up to 32 MiB of the file being written, so it is
// applied once per partition, when the partition is finished (FinishClosedPartition) or by
// `skua --compact`, not on the ingest path's compactions. Level 6 rather than 3: -6 B/span on
// the random workload, the same on the tracegen shape; levels 9 and 12 did better on the first
// and worse on the second (docs/benchmarks.md).
inline constexpr char kDictionaryCompression[] =
    "{enabled=true;level=6;max_dict_bytes=65536;zstd_max_train_bytes=1048576;"
    "use_zstd_dict_trainer=true;max_dict_buffer_bytes=33554432}";

}  // namespace skua::storage
