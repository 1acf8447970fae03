// Storage's interface to the rest of Skua, in three roles: writing prepared span batches per
// shard durably (SpanWriter), reading traces, searches and the catalog (SpanReader), and health,
// statistics and maintenance (StoreAdmin). RocksDB types never appear here.
//
// Tenants. Every write and every read names a tenant: "" when tenancy is off, else a tenant ID
// (common/tenancy.h). A tenant's data lives in column families of its own (docs/storage.md), so
// a read of one tenant never even opens another's; nothing here filters after the fact.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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
#include "common/metrics.h"
#include "config/config.h"
#include "filter/filter.h"
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
  std::string tenant;
  struct Chunk {
    common::TraceId trace_id;
    int64_t retention_seconds;  // of the tenant and the chunk's spans' services (RetentionPolicy)
    std::string value;          // TraceChunk
  };
  std::vector<Chunk> chunks;
  std::vector<std::pair<uint64_t, std::string>> resources;  // resource_id -> row value
  std::vector<std::pair<uint64_t, std::string>> scopes;     // scope_id -> row value
  std::shared_ptr<const IndexBatch> index;                  // the spans' search index entries
  size_t span_count = 0;
  size_t bytes = 0;  // sum of encoded value sizes
};

// A position in a search's order (newest matching span's start descending, then trace ID
// ascending): where the previous page of a paginated search ended.
struct PageCursor {
  int64_t start_ns = 0;
  common::TraceId trace_id;
};

// A search (Jaeger's semantics, docs/api.md): a trace matches when one of its spans
// satisfies every condition; the `limit` traces whose newest matching span started last are
// returned, newest first (ties by trace ID).
struct TraceQuery {
  std::string tenant;     // whose traces ("" = no tenancy)
  std::string service;    // "" = every service
  std::string operation;  // "" = any
  // All must match the same span; values compared as strings (storage/span_terms.h).
  std::vector<std::pair<std::string, std::string>> tags;
  // Groups of tags of which the span must have at least one each (what an `or` of a filter
  // implies); compared as `tags` are.
  std::vector<std::vector<std::pair<std::string, std::string>>> any_tags;
  // Attributes the span must have with a value the pattern accepts (what a filter's `regex`
  // implies); matched against the index blocks' value dictionaries.
  std::vector<filter::PatternHint> patterns;
  int64_t start_min_ns = 0;     // span start >= this; 0 = unbounded
  int64_t start_max_ns = 0;     // span start <= this; 0 = unbounded
  int64_t duration_min_ns = 0;  // span duration >= this; 0 = unbounded
  int64_t duration_max_ns = 0;  // span duration <= this; 0 = unbounded
  // Jaeger RFC 0005's structured filter (filter/filter.h), or null. A span must satisfy it as
  // well as every condition above; the API layers never set both (RFC 0005 makes the legacy
  // predicates and the filter exclusive), but storage does not rely on that.
  std::shared_ptr<const filter::Filter> filter;
  // Bounds on the duration of the whole trace (a Skua extension): from its earliest span start
  // to its latest span end, over the spans stored when the search runs (an incomplete trace is
  // measured by the spans present). 0 = unbounded.
  int64_t trace_duration_min_ns = 0;
  int64_t trace_duration_max_ns = 0;
  // A page after the first (Jaeger RFC 0014): only traces ordered after this position. A trace
  // is placed by its newest matching span, so one whose newest matching span is newer than the
  // cursor is not returned, even if older spans of it match too.
  std::optional<PageCursor> after;
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

// Autocomplete: attribute keys, or the values of one key (storage/attribute_catalog.h says what
// is kept and what the counts mean).
struct AttributeQuery {
  std::string tenant;
  std::string service;                         // "" = every service of the tenant
  filter::Level level = filter::Level::kNone;  // kNone = every level
  std::string key;                             // whose values (AttributeValuesOf)
  std::string prefix;                          // of the key (AttributeKeys) or value
  size_t limit = 100;                          // most frequent first, ties by name
};
struct AttributeKeyCount {
  filter::Level level;
  std::string key;
  uint64_t count;  // occurrences: spans carrying it, or spans under a resource or scope with it
};
struct AttributeValueCount {
  std::string value;  // its string form (model::ValueAsString)
  uint8_t type;       // OTLP AnyValue value_case: string, bool, int or double
  uint64_t count;
};
struct AttributeValues {
  std::vector<AttributeValueCount> values;
  bool truncated = false;  // the key has more distinct values than are kept: the most frequent
};

struct DependencyLink {
  std::string parent;
  std::string child;
  uint64_t call_count = 0;
};

// How long spans are kept, in seconds: a default, per-service overrides, and per-tenant
// overrides, which apply to all of the tenant's services.
struct RetentionPolicy {
  int64_t default_seconds = 72 * 3600;
  std::vector<std::pair<std::string, int64_t>> overrides;  // by service
  std::vector<std::pair<std::string, int64_t>> tenant_overrides;

  int64_t For(std::string_view tenant, std::string_view service) const;
  int64_t Max() const;
  // Every retention some span may have.
  std::vector<int64_t> All() const;
  static RetentionPolicy From(const config::StorageConfig& config);
};

// Width of the time partitions holding data kept `retention_seconds`: a twelfth of it, at
// least 1 s and at most a day. Expired data disappears within one width.
int64_t PartitionWidthSeconds(int64_t retention_seconds);

// Encodes spans of `tenant` (all routed to one shard): one chunk per trace and retention period.
// Thread-safe, no I/O.
PreparedWrite PrepareWrite(std::string_view tenant, std::span<const SpanRef> spans,
                           const RetentionPolicy& retention);

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

  // Every service of `tenant` that has stored spans, sorted.
  virtual std::vector<std::string> Services(const std::string& tenant) = 0;
  // The operations of a service with their span kinds, sorted by name then kind; `span_kind`
  // non-empty keeps only that kind.
  virtual std::vector<Operation> Operations(const std::string& tenant, const std::string& service,
                                            const std::string& span_kind) = 0;
  // Calls between services (parent span's service -> child span's service, different services
  // only) whose child span started in [start_ns, end_ns], summed per pair.
  virtual std::vector<DependencyLink> Dependencies(const std::string& tenant, int64_t start_ns,
                                                   int64_t end_ns) = 0;

  // Attribute keys / values of a key, from the attribute catalog (never reads spans).
  virtual std::vector<AttributeKeyCount> AttributeKeys(const AttributeQuery& query) = 0;
  virtual AttributeValues AttributeValuesOf(const AttributeQuery& query) = 0;

  // Every stored span of the trace, grouped by resource and scope; exact duplicates (a span
  // re-sent after a lost acknowledgement) are returned once. nullopt if nothing is stored.
  // Rows that cannot be decoded are left out (counted in StorageStats::undecodable_rows); the
  // first span returned then carries a warning saying so (model::AddWarning).
  virtual absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const std::string& tenant,
                                                                   const common::TraceId& id) = 0;
};

// The writer role: what the ingest pipeline needs. Each shard has a writer thread of its own
// (inside storage) with a queue bounded in bytes; it group-commits everything waiting as one
// batch and does the shard's upkeep between commits and when idle.
class SpanWriter {
 public:
  virtual ~SpanWriter() = default;

  virtual int shard_count() const = 0;
  // The shard that holds every span of this trace. Stable for a data directory's lifetime.
  virtual int ShardOf(const common::TraceId& id) const = 0;

  // Encodes spans of `tenant` all routed to one shard (PrepareWrite with the store's own
  // retention). Thread-safe, no I/O.
  virtual PreparedWrite Prepare(std::string_view tenant, std::span<const SpanRef> spans) const = 0;

  // One request's writes: at most one per shard.
  struct ShardWrite {
    int shard = 0;
    PreparedWrite write;
  };
  using Done = std::function<void(absl::Status)>;
  // Queues the writes of one request on their shards' writers (none: done at once, OK).
  // Admission is all or nothing:
  // if any shard's queue would exceed its bound, nothing is queued. `done` is called exactly
  // once — before Submit returns when the request is refused, else from a writer thread once
  // every write is in its shard's write-ahead log (and fsynced if configured) and visible to
  // searches, or one has failed. Thread-safe.
  // Errors: kResourceExhausted (a shard queue is full; the message names it), kUnavailable (a
  // commit failed — the message may name files of the data directory — or the writers are
  // stopping), kInvalidArgument (no such shard).
  virtual void Submit(std::vector<ShardWrite> writes, Done done) = 0;

  // Bytes queued on a shard, including the batch being committed.
  virtual uint64_t QueuedBytes(int shard) const = 0;

  // Refuses new writes, commits everything queued, and ends the writer threads (upkeep with
  // them). Idempotent; also done when the store is destroyed.
  virtual void StopWriters() = 0;
};

// The admin role: what the server's health, metrics and offline maintenance need.
class StoreAdmin {
 public:
  virtual ~StoreAdmin() = default;

  // Estimated bytes of live data on disk plus in memtables, all shards.
  virtual uint64_t LiveDataBytes() const = 0;
  virtual StorageStats Stats() const = 0;
  // The tenants with data stored, sorted ("" for data written without tenancy).
  virtual std::vector<std::string> Tenants() const = 0;
  // OK, or why writes currently fail (e.g. the disk is full). Writes resume by themselves once
  // the cause is gone (upkeep retries every second). Thread-safe.
  virtual absl::Status Health() const = 0;

  // Runs one round of every shard's upkeep now, on its writer: seals index blocks that are due,
  // drops expired partitions and, over the disk cap, the oldest ones, and finishes closed
  // partitions a step. Returns when done. The writers do this by themselves every second; this
  // is for tests (with an injected clock) and tools.
  virtual void RunUpkeep() = 0;

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

  // Deletes everything stored, of every tenant: spans, index, catalog and dependency counts.
  // Each shard's writer does it between commits, so a write acknowledged before the call is
  // deleted and one submitted after it is kept. Irreversible; for test harnesses
  // (admin.purge.enabled). Errors: kInternal (a partition could not be dropped), kUnavailable.
  virtual absl::Status Purge() = 0;
};

// A store in all three roles; each part sees only the role it needs (query the reader, the
// collector the writer, the server all three).
class SpanStore : public SpanReader, public SpanWriter, public StoreAdmin {
 public:
  struct WriterOptions {
    // Bound of each shard's queue (collector.queue.max_bytes).
    uint64_t max_queue_bytes = 64ull << 20;
    // Where the writers' metrics go (queue bytes, group commits); a private registry if null.
    // Must outlive the store.
    common::MetricsRegistry* metrics = nullptr;
    // How long an idle writer waits before doing its shard's upkeep by itself; 0 = never (only
    // from commits, once per second of `clock`, and RunUpkeep): for tests on a fake clock.
    std::chrono::milliseconds idle_upkeep_interval{1000};
  };
  // Opens (creating if needed) the shards under `config.path` and starts their writers. Refuses
  // a directory written with another format version or, when config.shards != 0, another shard
  // count.
  // Errors: kFailedPrecondition (incompatible directory), kUnavailable (I/O).
  // `clock` (which must outlive the store) times retention and the sealing of index blocks.
  static absl::StatusOr<std::unique_ptr<SpanStore>> Open(const config::StorageConfig& config,
                                                         common::Clock& clock,
                                                         const WriterOptions& writers);
  static absl::StatusOr<std::unique_ptr<SpanStore>> Open(const config::StorageConfig& config,
                                                         common::Clock& clock) {
    return Open(config, clock, WriterOptions{});
  }
  ~SpanStore() override = default;
};

}  // namespace skua::storage
