// Storage's interface to the rest of Skua: durable writes of prepared span batches per shard,
// and trace lookup. RocksDB types never appear here.
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
    std::string value;  // TraceChunk
  };
  std::vector<Chunk> chunks;
  std::vector<std::pair<uint64_t, std::string>> resources;  // resource_id -> row value
  std::vector<std::pair<uint64_t, std::string>> scopes;     // scope_id -> row value
  size_t span_count = 0;
  size_t bytes = 0;  // sum of encoded value sizes
};

// Encodes spans (all routed to one shard). Thread-safe, no I/O.
PreparedWrite PrepareWrite(std::span<const SpanRef> spans);

class SpanStore {
 public:
  // Opens (creating if needed) the shards under `config.path`. Refuses a directory written with
  // another format version or, when config.shards != 0, another shard count.
  // Errors: kFailedPrecondition (incompatible directory), kUnavailable (I/O).
  static absl::StatusOr<std::unique_ptr<SpanStore>> Open(const config::StorageConfig& config);
  virtual ~SpanStore() = default;

  virtual int shard_count() const = 0;
  // The shard that holds every span of this trace. Stable for a data directory's lifetime.
  virtual int ShardOf(const common::TraceId& id) const = 0;

  // Commits the writes as one atomic batch; when OK, they are in the shard's write-ahead log
  // (and fsynced if configured). REQUIRES: calls for one shard never overlap.
  // Errors: kUnavailable (I/O, disk full), kInvalidArgument (bad shard).
  virtual absl::Status Commit(int shard, std::span<const PreparedWrite* const> writes) = 0;

  // Every stored span of the trace, grouped by resource and scope; exact duplicates (a span
  // re-sent after a lost acknowledgement) are returned once. nullopt if nothing is stored.
  // Thread-safe.
  virtual absl::StatusOr<std::optional<otlp::TracesData>> GetTrace(const common::TraceId& id) = 0;

  // Estimated bytes of live data on disk plus in memtables, all shards.
  virtual uint64_t LiveDataBytes() const = 0;
};

}  // namespace skua::storage
