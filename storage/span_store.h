// Storage's interface to the rest of Skua, in three roles: writing prepared span batches per
// shard durably (SpanWriter), reading traces, searches and the catalog (SpanReader), and health,
// statistics and maintenance (StoreAdmin). RocksDB types never appear here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "config/config.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::storage {

namespace otlp = ::opentelemetry::proto::trace::v1;

struct IndexBatch;  // storage/index.h

// A span with the resource and scope it was exported under. Points into a decoded request that
// outlives every use of the SpanRef.
struct SpanRef {
  const otlp::ResourceSpans* resource;  // its resource and schema_url are used
  const otlp::ScopeSpans* scope;        // its scope and schema_url are used
  const otlp::Span* span;
};

// The spans of one shard from one export request, encoded into row values. Built without I/O
// on the receiving thread, so the shard's writer only copies rows into a write batch.
struct PreparedWrite {
  struct Chunk {
    common::TraceId trace_id;
    int64_t retention_seconds;  // of the chunk's spans' services (RetentionPolicy)
    std::string value;          // TraceChunk
  };
  std::vector<Chunk> chunks;
  std::vector<std::pair<uint64_t, std::string>> resources;  // resource_id -> row value
  std::vector<std::pair<uint64_t, std::string>> scopes;     // scope_id -> row value
  std::shared_ptr<const IndexBatch> index;                  // the spans' search index entries
  size_t span_count = 0;
  size_t bytes = 0;  // sum of encoded value sizes
};

// A search (Jaeger's semantics, docs/api.md): a trace matches when one of its spans
// satisfies every condition; the `limit` traces whose newest matching span started last are
// returned, newest first (ties by trace ID).
struct TraceQuery {
  std::string service;    // "" = every service
  std::string operation;  // "" = any
  // All must match the same span; values compared as strings (storage/span_terms.h).
  std::vector<std::pair<std::string, std::string>> tags;
  int64_t start_min_ns = 0;     // span start >= this; 0 = unbounded
  int64_t start_max_ns = 0;     // span start <= this; 0 = unbounded
  int64_t duration_min_ns = 0;  // span duration >= this; 0 = unbounded
  int64_t duration_max_ns = 0;  // span duration <= this; 0 = unbounded
  int limit = 100;
  // The search stops with kDeadlineExceeded once the store's clock passes this (ns since the
  // epoch); 0 = no deadline.
  int64_t deadline_ns = 0;
};

struct TraceHit {
  common::TraceId trace_id;
  int64_t start_ns;  // start of the trace's newest matching span
  // The trace as stored, when the search read it anyway (searches with tags verify their
  // results against the spans); null otherwise. Saves the caller a second read.
  std::shared_ptr<otlp::TracesData> trace;
};

struct Operation {
  std::string name;
  std::string span_kind;  // "server", "client", "producer", "consumer", "internal" or ""
  friend bool operator==(const Operation&, const Operation&) = default;
};

struct DependencyLink {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
};

// How long spans are kept: a default and per-service overrides, in seconds.
struct RetentionPolicy {
  int64_t default_seconds = 72 * 3600;
  std::vector<std::pair<std::string, int64_t>> overrides;

  int64_t For(std::string_view service) const;
  int64_t Max() const;
  static RetentionPolicy From(const config::StorageConfig& config);
};

// Width of the time partitions holding data kept `retention_seconds`: a twelfth of it, at
// least 1 s and at most a day. Expired data disappears within one width.
int64_t PartitionWidthSeconds(int64_t retention_seconds);

// Encodes spans (all routed to one shard): one chunk per trace and retention period. Thread-safe,
// no I/O.
PreparedWrite PrepareWrite(std::span<const SpanRef> spans, const RetentionPolicy& retention);

// Counters of a store's life, for metrics.
struct StorageStats {
  uint64_t rows_written = 0;
  // Stored rows found undecodable and left out of an answer, a search or the replay at start
  // (counted each time one is met).
  uint64_t undecodable_rows = 0;
  uint64_t partitions = 0;
  uint64_t partitions_dropped_retention = 0;
  uint64_t partitions_dropped_disk_cap = 0;
  uint64_t disk_bytes = 0;           // data directory, as last measured
  uint64_t index_blocks_merged = 0;  // sealed index blocks merged into larger ones
  uint64_t partitions_finished = 0;  // closed partitions merged and recompressed
  // RocksDB flushes and compactions running, plus partitions with a compaction pending.
  uint64_t background_jobs = 0;
};

// The reader role: what the query APIs need. Thread-safe.
class SpanReader {
 public:
  virtual ~SpanReader() = default;

  // Trace IDs matching `query`, newest first, at most query.limit.
  // Errors: kDeadlineExceeded (query.deadline_ns passed), kUnavailable (I/O).
  virtual absl::StatusOr<std::vector<TraceHit>> FindTraces(const TraceQuery& query) = 0;

  // Every service that has stored spans, sorted.
  virtual std::vector<std::string> Services() = 0;
  // The operations of a service with their span kinds, sorted by name then kind; `span_kind`
  // non-empty keeps only that kind.
  virtual std::vector<Operation> Operations(const std::string& service,
                                            const std::string& span_kind) = 0;
  // Calls between services (parent span's service -> child span's service, different services
  // only) whose child span started in [start_ns, end_ns], summed per pair.
  virtual std::vector<DependencyLink> Dependencies(int64_t start_ns, int64_t end_ns) = 0;

  // Every stored span of the trace, grouped by resource and scope; exact duplicates (a span
  // re-sent after a lost acknowledgement) are returned once. nullopt if nothing is stored.
  // Rows that cannot be decoded are left out (counted in StorageStats::undecodable_rows); the
  // first span returned then carries a warning saying so (model::AddWarning).
  virtual absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) = 0;
};

// The writer role: what the ingest pipeline needs.
class SpanWriter {
 public:
  virtual ~SpanWriter() = default;

  virtual int shard_count() const = 0;
  // The shard that holds every span of this trace. Stable for a data directory's lifetime.
  virtual int ShardOf(const common::TraceId& id) const = 0;

  // Encodes spans all routed to one shard (PrepareWrite with the store's own retention).
  // Thread-safe, no I/O.
  virtual PreparedWrite Prepare(std::span<const SpanRef> spans) const = 0;

  // Commits the writes as one atomic batch; when OK, they are in the shard's write-ahead log
  // (and fsynced if configured) and visible to searches. REQUIRES: calls for one shard (this
  // and Maintain) never overlap.
  // Errors: kUnavailable (I/O, disk full), kInvalidArgument (bad shard).
  virtual absl::Status Commit(int shard, std::span<const PreparedWrite* const> writes) = 0;

  // Periodic upkeep of a shard: seals search index blocks that have aged, drops expired time
  // partitions and, over the disk cap, the oldest ones. Called by the shard's writer thread
  // when idle (Commit does it too, at most once a second). Same threading rule as Commit.
  virtual void Maintain(int shard) = 0;
};

// The admin role: what the server's health, metrics and offline maintenance need.
class StoreAdmin {
 public:
  virtual ~StoreAdmin() = default;

  // Estimated bytes of live data on disk plus in memtables, all shards.
  virtual uint64_t LiveDataBytes() const = 0;
  virtual StorageStats Stats() const = 0;
  // OK, or why writes currently fail (e.g. the disk is full). Writes resume by themselves once
  // the cause is gone (Maintain retries). Thread-safe.
  virtual absl::Status Health() const = 0;

  // Compacts every partition of every shard down to its last level (offline maintenance:
  // `skua --compact`). Blocks until done.
  virtual absl::Status CompactAll() = 0;

  // Approximate bytes on disk (SST files) per kind of row, all shards and partitions, largest
  // first: where the space goes (`skua --compact` prints it).
  struct KindUsage {
    std::string kind;  // e.g. "trace chunks (T)"
    uint64_t bytes = 0;
  };
  virtual std::vector<KindUsage> DiskUsageByKind() const = 0;
};

// A store in all three roles; each part sees only the role it needs (query the reader, the
// collector the writer, the server all three).
class SpanStore : public SpanReader, public SpanWriter, public StoreAdmin {
 public:
  // Opens (creating if needed) the shards under `config.path`. Refuses a directory written with
  // another format version or, when config.shards != 0, another shard count.
  // Errors: kFailedPrecondition (incompatible directory), kUnavailable (I/O).
  // `clock` (which must outlive the store) times the sealing of search index blocks.
  static absl::StatusOr<std::unique_ptr<SpanStore>> Open(const config::StorageConfig& config,
                                                         common::Clock& clock);
  ~SpanStore() override = default;
};

}  // namespace skua::storage
