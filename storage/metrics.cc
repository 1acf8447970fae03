// Storage's metrics: its statistics exposed as gauges and counters at scrape time.

#include "storage/metrics.h"

namespace skua::storage {

void RegisterMetrics(SpanStore& s, common::MetricsRegistry& metrics) {
  metrics.AddCallbackGauge("skua_storage_live_data_bytes",
                           "Estimated live data in RocksDB (SST files and memtables), bytes", {},
                           [&s] { return static_cast<double>(s.LiveDataBytes()); });
  // Gauges read from the store's counters (StorageStats) at every scrape.
  struct StatGauge {
    const char* name;
    const char* help;
    common::Labels labels;
    uint64_t StorageStats::*field;
  };
  const StatGauge stat_gauges[] = {
      {"skua_storage_rows_written",
       "RocksDB rows (puts and deletes) written since start, all shards",
       {},
       &StorageStats::rows_written},
      {"skua_storage_partitions",
       "Live time partitions, all shards",
       {},
       &StorageStats::partitions},
      {"skua_storage_partitions_dropped",
       "Time partitions dropped since start, by reason",
       {{"reason", "retention"}},
       &StorageStats::partitions_dropped_retention},
      {"skua_storage_partitions_dropped",
       "Time partitions dropped since start, by reason",
       {{"reason", "disk_cap"}},
       &StorageStats::partitions_dropped_disk_cap},
      {"skua_storage_index_blocks_merged",
       "Sealed search index blocks merged into larger ones since start (closed partitions)",
       {},
       &StorageStats::index_blocks_merged},
      {"skua_storage_partitions_finished",
       "Closed time partitions finished since start (index merged, data recompressed)",
       {},
       &StorageStats::partitions_finished},
      {"skua_storage_background_jobs",
       "RocksDB flushes and compactions running, plus partitions with a compaction pending",
       {},
       &StorageStats::background_jobs},
      {"skua_storage_disk_bytes",
       "Bytes of the data directory, as last measured for the disk cap (0 without a cap)",
       {},
       &StorageStats::disk_bytes},
  };
  metrics.AddCallbackCounter(
      "skua_storage_undecodable_rows_total",
      "Stored rows found undecodable and left out of answers, searches or the replay at start", {},
      [&s] { return static_cast<double>(s.Stats().undecodable_rows); });
  for (const auto& g : stat_gauges) {
    metrics.AddCallbackGauge(g.name, g.help, g.labels, [&s, field = g.field] {
      return static_cast<double>(s.Stats().*field);
    });
  }
}

}  // namespace skua::storage
