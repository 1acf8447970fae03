// skua: wires config, storage, the ingest pipeline, the receivers, the query API and the admin
// port together, and runs until SIGTERM/SIGINT.
//
// Shutdown order (SIGTERM): not ready -> receivers stop accepting and finish their calls ->
// ingest queues drain and commit -> query and admin servers stop -> RocksDB closes. Exit 0.

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "collector/ingest_pipeline.h"
#include "collector/otlp_grpc.h"
#include "collector/otlp_http.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "config/config.h"
#include "query/grpc_api.h"
#include "query/http_api.h"
#include "server/admin.h"
#include "storage/span_store.h"

extern char** environ;

namespace {

constexpr char kVersion[] = "0.1.0";

// Exit statuses: 0 clean stop, 1 runtime failure (cannot listen, cannot open storage),
// 2 bad configuration or command line.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int Fail(const absl::Status& st) {
  SPDLOG_CRITICAL("{}", st.message());
  return kExitRuntime;
}

// `skua --compact`: offline full compaction of the data directory.
int Compact(const skua::config::Config& cfg) {
  using namespace skua;
  common::SystemClock clock;
  auto store = storage::SpanStore::Open(cfg.storage, clock);
  if (!store.ok()) return Fail(store.status());
  SPDLOG_INFO("compacting {}", cfg.storage.path);
  if (auto st = (*store)->CompactAll(); !st.ok()) return Fail(st);
  SPDLOG_INFO("compacted: {} bytes of live data", (*store)->LiveDataBytes());
  for (const auto& u : (*store)->DiskUsageByKind()) {
    if (u.bytes > 0) SPDLOG_INFO("  {}: {} bytes", u.kind, u.bytes);
  }
  return 0;
}

int Run(const skua::config::Config& cfg) {
  using namespace skua;
  common::MetricsRegistry metrics;
  std::atomic<bool> ready{false};

  // Signals are handled by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Set once storage is open; read by /readyz (which answers "starting" until then).
  std::atomic<storage::SpanStore*> store_for_health{nullptr};
  auto admin =
      common::HttpServer::Start({"admin", cfg.admin.endpoint, 1 << 20, 1},
                                server::MakeAdminHandler(metrics, ready, [&store_for_health] {
                                  storage::SpanStore* s = store_for_health.load();
                                  return s != nullptr ? s->Health() : absl::OkStatus();
                                }));
  if (!admin.ok()) return Fail(admin.status());
  SPDLOG_INFO("admin listening on {}", (*admin)->address());

  common::SystemClock clock;
  auto store = storage::SpanStore::Open(cfg.storage, clock);
  if (!store.ok()) return Fail(store.status());
  storage::SpanStore& s = **store;
  store_for_health = &s;
  metrics.AddCallbackGauge("skua_storage_live_data_bytes",
                           "Estimated live data in RocksDB (SST files and memtables), bytes", {},
                           [&s] { return static_cast<double>(s.LiveDataBytes()); });
  // Gauges read from the store's counters (StorageStats) at every scrape.
  struct StatGauge {
    const char* name;
    const char* help;
    common::Labels labels;
    uint64_t storage::StorageStats::*field;
  };
  const StatGauge stat_gauges[] = {
      {"skua_storage_rows_written",
       "RocksDB rows (puts and deletes) written since start, all shards",
       {},
       &storage::StorageStats::rows_written},
      {"skua_storage_partitions",
       "Live time partitions, all shards",
       {},
       &storage::StorageStats::partitions},
      {"skua_storage_partitions_dropped",
       "Time partitions dropped since start, by reason",
       {{"reason", "retention"}},
       &storage::StorageStats::partitions_dropped_retention},
      {"skua_storage_partitions_dropped",
       "Time partitions dropped since start, by reason",
       {{"reason", "disk_cap"}},
       &storage::StorageStats::partitions_dropped_disk_cap},
      {"skua_storage_index_blocks_merged",
       "Sealed search index blocks merged into larger ones since start (closed partitions)",
       {},
       &storage::StorageStats::index_blocks_merged},
      {"skua_storage_partitions_finished",
       "Closed time partitions finished since start (index merged, data recompressed)",
       {},
       &storage::StorageStats::partitions_finished},
      {"skua_storage_background_jobs",
       "RocksDB flushes and compactions running, plus partitions with a compaction pending",
       {},
       &storage::StorageStats::background_jobs},
      {"skua_storage_disk_bytes",
       "Bytes of the data directory, as last measured for the disk cap (0 without a cap)",
       {},
       &storage::StorageStats::disk_bytes},
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
  if (cfg.collector.queue_max_bytes < cfg.collector.grpc_max_recv_msg_size) {
    SPDLOG_WARN(
        "collector.queue.max_bytes ({}) is below collector.otlp.grpc.max_recv_msg_size ({}): "
        "a request whose spans for one shard exceed the queue bound is always refused",
        cfg.collector.queue_max_bytes, cfg.collector.grpc_max_recv_msg_size);
  }

  collector::IngestPipeline pipeline(s, cfg.collector, metrics);
  auto grpc = collector::StartOtlpGrpcReceiver(cfg.collector, pipeline);
  if (!grpc.ok()) return Fail(grpc.status());
  SPDLOG_INFO("otlp-grpc listening on {}", (*grpc)->address());

  // Compressed bodies are bounded by the same limit as decompressed ones.
  auto http = common::HttpServer::Start(
      {"otlp-http", cfg.collector.http_endpoint, cfg.collector.http_max_request_body_size, 4},
      collector::MakeOtlpHttpHandler(pipeline, cfg.collector, metrics));
  if (!http.ok()) return Fail(http.status());
  SPDLOG_INFO("otlp-http listening on {}", (*http)->address());

  auto query = common::HttpServer::Start({"query-http", cfg.query.http_endpoint, 1 << 20, 4},
                                         query::MakeQueryHttpHandler(s, clock, metrics));
  if (!query.ok()) return Fail(query.status());
  SPDLOG_INFO("query-http listening on {}", (*query)->address());

  auto query_grpc = query::StartQueryGrpcServer(cfg.query.grpc_endpoint, s, metrics);
  if (!query_grpc.ok()) return Fail(query_grpc.status());
  SPDLOG_INFO("query-grpc listening on {}", (*query_grpc)->address());

  ready = true;
  SPDLOG_INFO("skua {} ready (data in {}, {} shards)", kVersion, cfg.storage.path, s.shard_count());

  int sig = 0;
  sigwait(&signals, &sig);
  SPDLOG_INFO("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  ready = false;
  (*grpc)->Stop();
  (*http)->Stop();
  pipeline.Stop();
  (*query)->Stop();
  (*query_grpc)->Stop();
  (*admin)->Stop();
  store_for_health = nullptr;
  store->reset();
  SPDLOG_INFO("storage closed; bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stdout_color_mt("skua");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::info);

  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  auto loaded = skua::config::Load(args, env);
  if (!loaded.ok()) {
    std::fprintf(stderr, "skua: %s\n", std::string(loaded.status().message()).c_str());
    return kExitUsage;
  }
  if (loaded->help) {
    std::cout << skua::config::HelpText();
    return 0;
  }
  if (loaded->validate) {
    std::cout << skua::config::Describe(loaded->config);
    return 0;
  }
  if (loaded->version) {
    std::cout << "skua " << kVersion << "\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(loaded->config.log.level));
  if (!loaded->config_file.empty()) SPDLOG_INFO("config file {}", loaded->config_file);
  if (loaded->compact) return Compact(loaded->config);
  return Run(loaded->config);
}
