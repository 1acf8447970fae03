// Skua's configuration model and its loading. One naming rule for every key:
//   YAML `storage: {path: x}`  ==  env SKUA_STORAGE_PATH=x  ==  flag --storage.path=x
// Precedence: built-in defaults < YAML file (--config PATH) < environment < flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth.h"
#include "common/cors.h"
#include "common/grpc_server.h"
#include "common/tenancy.h"
#include "common/tls.h"

namespace skua::config {

// gRPC listener limits with a memory quota of `bytes` for the listener's buffers.
inline common::GrpcLimits GrpcLimitsWithMemory(uint64_t bytes) {
  common::GrpcLimits l;
  l.memory_bytes = bytes;
  return l;
}

struct StorageConfig {
  std::string path = "./data";  // RocksDB data directory
  int shards = 0;               // 0 = number of cores; fixed once the data directory exists
  bool fsync = false;           // fsync the WAL on every group commit (power-loss safety)
  uint64_t block_cache_size = 128ull << 20;   // RocksDB block cache shared by all shards
  uint64_t memtable_size = 96ull << 20;       // all RocksDB memtables of one shard together
  std::chrono::seconds retention{72 * 3600};  // spans older than this are dropped
  // Services kept for another period than `retention`, e.g. {checkout: 720h}.
  std::vector<std::pair<std::string, std::chrono::seconds>> retention_overrides;
  // Tenants kept for another period, all their services (key tenancy.retention_overrides).
  std::vector<std::pair<std::string, std::chrono::seconds>> tenant_retention_overrides;
  uint64_t max_disk_bytes = 0;  // 0 = no cap; above it the oldest partitions are dropped
  // Writes are refused (retryably) while the filesystem has less free space than this, so the
  // database never runs into a full disk. 0 = no check.
  uint64_t min_free_disk_bytes = 128ull << 20;
};

struct CollectorConfig {
  std::string grpc_endpoint = "localhost:4317";
  uint64_t grpc_max_recv_msg_size = 16ull << 20;  // on the wire, compressed or not
  common::GrpcLimits grpc_limits = GrpcLimitsWithMemory(128ull << 20);
  common::AuthConfig grpc_auth;  // exporters' credentials
  common::TlsConfig grpc_tls;
  int http_max_connections = 1024;
  // Bytes of OTLP requests held in memory before their spans are queued (bodies being received,
  // inflated, decoded), both protocols together; past it exports are refused (retryably).
  uint64_t max_inflight_bytes = 256ull << 20;
  std::string http_endpoint = "localhost:4318";
  uint64_t http_max_request_body_size = 16ull << 20;  // after decompression
  common::CorsPolicy http_cors;                       // browsers' OTLP/HTTP exporters
  common::AuthConfig http_auth;
  common::TlsConfig http_tls;
  uint64_t queue_max_bytes = 64ull << 20;       // per shard
  std::chrono::milliseconds retry_after{1000};  // hint sent with backpressure refusals
};

struct QueryConfig {
  std::string http_endpoint = "localhost:16686";
  std::string grpc_endpoint = "localhost:16685";
  int http_max_connections = 256;
  common::CorsPolicy http_cors;  // pages of other origins calling the query API
  common::AuthConfig http_auth;  // people's and dashboards' credentials
  common::TlsConfig http_tls;
  common::GrpcLimits grpc_limits = GrpcLimitsWithMemory(32ull << 20);
  common::AuthConfig grpc_auth;
  common::TlsConfig grpc_tls;
  // Largest `limit` a search may ask for (Kiali asks for 10,000 and the Jaeger UI for up to
  // 1,500); larger ones are answered with this many traces.
  int max_limit = 10'000;
  // Searches and trace lookups stop (and answer 504 / DEADLINE_EXCEEDED) after this long.
  std::chrono::milliseconds timeout{30'000};
  // Threads running searches, apart from the threads answering cheap calls (services,
  // operations, one trace), so those never queue behind heavy searches.
  int search_threads = 2;
  // A search's answer stops growing past this many bytes of span data (the traces that fit are
  // returned, with an error entry saying the answer was cut).
  uint64_t max_response_bytes = 64ull << 20;
};

struct AdminConfig {
  std::string endpoint = "localhost:8888";
  // Protects /metrics; /healthz and /readyz stay open for probes.
  common::AuthConfig auth;
  common::TlsConfig tls;
  // POST /purge deletes every stored span (a test facility; off by default).
  bool purge_enabled = false;
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
};

struct Config {
  StorageConfig storage;
  CollectorConfig collector;
  QueryConfig query;
  AdminConfig admin;
  common::TenancyConfig tenancy;  // its retention_overrides are storage's
  LogConfig log;
};

// What the command line asked for.
struct LoadResult {
  Config config;
  bool help = false;        // --help: print HelpText() and exit 0
  bool version = false;     // --version
  bool validate = false;    // --validate: check the configuration, print it, exit
  bool compact = false;     // --compact: compact the data directory fully, exit
  std::string config_file;  // the YAML file read, if any
};

// Loads from argv (without argv[0]) and the environment ("NAME=value" strings).
// Errors are kInvalidArgument, with a message naming the key, the source and the bad value.
absl::StatusOr<LoadResult> Load(const std::vector<std::string>& args,
                                const std::vector<std::string>& environment);

// Reads and applies one YAML document over `config`. Exposed for tests.
absl::Status ApplyYaml(const std::string& yaml_text, std::string_view source, Config& config);

// "key=value" lines, one per key, in the form the key accepts.
std::string Describe(const Config& config);

// Every key with its environment variable, default and meaning.
std::string HelpText();

// All key names, in order (e.g. "storage.path").
std::vector<std::string> KeyNames();

// The environment variable for a key: "storage.path" -> "SKUA_STORAGE_PATH".
std::string EnvName(std::string_view key);

// One listener class: its key prefix ("collector.otlp.grpc", "collector.otlp.http",
// "query.http", "query.grpc" or "admin") and its settings in a Config.
struct ListenerSettings {
  std::string_view prefix;
  const std::string* endpoint;
  const common::AuthConfig* auth;
  const common::TlsConfig* tls;
};

// The five listener classes of `config` (which must outlive the result), in that order.
std::vector<ListenerSettings> Listeners(const Config& config);

// The listeners reachable from other hosts (their host is not a loopback name or address)
// that neither encrypt nor authenticate, as "key=endpoint": what the start warns about. (Skua
// counts a listener with TLS or authentication as protected.)
std::vector<std::string> UnprotectedExposedListeners(const Config& config);

// "16MiB", "512KiB", "1GB", "1048576" -> bytes.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

}  // namespace skua::config
