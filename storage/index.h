// The search index of one shard (docs/storage.md, "Search index"). Internal to storage/.
//
// Every acknowledged span has an index entry: trace ID, start, duration, operation and its
// search terms. Entries of one export request travel as an IndexBatch: built on the receiver
// thread, written as one `L` row in the same write batch as the span chunks (so they are durable
// together), then appended to the shard's open block of the span's service, where searches see
// them at once. Open blocks are sealed into one `B` row per service; sealing also deletes the
// `L` rows it covers. After a crash the `L` rows newer than the last seal are replayed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ids.h"
#include "storage/span_store.h"

namespace skua::storage {

// Search terms are stored as "key\0value".
std::string MakeTerm(std::string_view key, std::string_view value);

struct IndexBatch {
  struct Entry {
    common::TraceId trace_id;
    uint64_t span_id = 0;
    uint64_t parent_span_id = 0;  // 0 = root
    int64_t start_ns = 0;
    int64_t duration_ns = 0;
    uint32_t service = 0;    // index into strings
    uint32_t operation = 0;  // index into strings
    uint8_t kind = 0;        // OTLP SpanKind
    uint32_t terms_begin = 0, terms_end = 0;  // range of term_ids
  };
  std::vector<std::string> strings;
  std::vector<Entry> entries;
  std::vector<uint32_t> term_ids;  // indexes into strings

  std::string Encode() const;
  static std::optional<IndexBatch> Decode(std::string_view data);
};

// Builds an IndexBatch, interning strings.
class IndexBatchBuilder {
 public:
  uint32_t Intern(std::string_view s);
  void Add(const SpanRef& ref);
  IndexBatch Finish() { return std::move(batch_); }

 private:
  IndexBatch batch_;
  std::unordered_map<std::string, uint32_t> ids_;
  // Resource and scope terms, computed once per message of the request.
  std::unordered_map<const void*, std::vector<uint32_t>> cached_terms_;
  std::unordered_map<const void*, uint32_t> service_of_;
};

// A query compiled against one block's dictionaries.
struct Hits {
  std::unordered_map<common::TraceId, int64_t, common::TraceIdHash> best;  // trace -> newest start
  void Add(const common::TraceId& id, int64_t start) {
    auto [it, inserted] = best.try_emplace(id, start);
    if (!inserted && start > it->second) it->second = start;
  }
  // The start time of the limit-th newest trace, or nullopt if fewer than `limit` traces.
  std::optional<int64_t> NthNewest(size_t limit) const;
};

// The entries of one service in one shard: the open (in-memory) block, or a sealed one decoded
// from its `B` row. Columnar; per-entry term lists are sorted ids into `terms`.
class Block {
 public:
  Block() = default;
  explicit Block(std::string service) : service_(std::move(service)) {}

  // Appends one entry of `batch` (open blocks only).
  void Append(const IndexBatch& batch, const IndexBatch::Entry& e);
  size_t size() const { return starts_.size(); }
  const std::string& service() const { return service_; }
  int64_t min_start() const { return min_start_; }
  int64_t max_start() const { return max_start_; }

  // Sealed row value: terms sorted, everything columnar.
  std::string Encode() const;
  static std::optional<Block> Decode(std::string_view data);

  // Adds the traces of the entries matching `q` (service is not checked here).
  void Search(const TraceQuery& q, Hits& hits) const;

 private:
  std::optional<uint32_t> FindTerm(const std::string& term) const;
  std::optional<uint32_t> FindOperation(const std::string& op) const;

  std::string service_;
  std::vector<std::string> ops_;
  std::vector<std::string> terms_;
  // Lookups while open; empty for decoded blocks, whose terms_ are sorted.
  std::unordered_map<std::string, uint32_t> op_index_, term_index_;
  std::vector<common::TraceId> trace_ids_;
  std::vector<int64_t> starts_, durations_;
  std::vector<uint32_t> op_ids_;
  std::vector<uint32_t> term_offsets_{0};  // entry i's terms: [term_offsets_[i], [i+1])
  std::vector<uint32_t> term_ids_;
  int64_t min_start_ = INT64_MAX, max_start_ = INT64_MIN, max_duration_ = 0;
};

}  // namespace skua::storage
