// The search index of one shard (docs/storage.md, "Search index"). Internal to storage/.
//
// Every acknowledged span has an index entry: trace ID, start, duration, operation, and the
// 64-bit hashes of its search terms (storage/span_terms.h). Terms of the span itself are kept
// per entry; terms of its resource and scope per "origin" (resource + scope), once.
//
// Life of an entry: built on the receiver thread (IndexBatch), appended by the shard writer,
// right after the write batch holding the span is durable, to the open block of the span's
// service, where searches see it at once. Open blocks are sealed into one `B` row per service.
// Until then the `L` row written with the spans lists the traces of that request, so a restart
// rebuilds the open blocks from the span chunks themselves.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/ids.h"
#include "storage/span_store.h"
#include "storage/span_terms.h"
#include "storage/term_filter.h"

namespace skua::storage {

// The index entries of one export request's spans for one shard.
struct IndexBatch {
  struct Origin {
    uint64_t id;                  // hash of (resource row id, scope row id)
    std::vector<uint64_t> terms;  // resource and scope term hashes
  };
  struct Entry {
    common::TraceId trace_id;
    uint64_t span_id = 0;
    uint64_t parent_span_id = 0;  // 0 = root
    int64_t start_ns = 0;
    int64_t duration_ns = 0;
    uint32_t service = 0;                     // into strings
    uint32_t operation = 0;                   // into strings
    uint32_t origin = 0;                      // into origins
    uint8_t kind = 0;                         // OTLP SpanKind
    uint32_t terms_begin = 0, terms_end = 0;  // span term hashes in `terms`
  };
  struct CatalogEntry {
    uint32_t service, operation;
    uint8_t kind;
  };
  std::vector<std::string> strings;  // service and operation names
  std::vector<Origin> origins;
  std::vector<Entry> entries;
  std::vector<uint64_t> terms;
  std::vector<CatalogEntry> catalog;  // distinct (service, operation, kind) of the entries

  size_t ApproxBytes() const;
};

class IndexBatchBuilder {
 public:
  void Add(const SpanRef& ref);
  IndexBatch Finish() { return std::move(batch_); }

 private:
  uint32_t Intern(std::string_view s);

  IndexBatch batch_;
  absl::flat_hash_map<std::string, uint32_t> strings_;
  absl::flat_hash_map<std::pair<const void*, const void*>, uint32_t> origins_;
  absl::flat_hash_map<const void*, uint32_t> services_;
  absl::flat_hash_map<uint64_t, bool> catalog_seen_;
};

// Traces found so far: trace -> start of its newest matching span.
struct Hits {
  absl::flat_hash_map<common::TraceId, int64_t, common::TraceIdHash> best;
  // What verification against the spans established: trace -> start of its newest matching
  // span, or nullopt if none matches. Index entries cannot raise a known trace past it.
  const absl::flat_hash_map<common::TraceId, std::optional<int64_t>, common::TraceIdHash>* known =
      nullptr;

  // The start an entry of trace `id` starting at `start` counts with, or nullopt if the trace
  // is known not to match.
  std::optional<int64_t> Effective(const common::TraceId& id, int64_t start) const {
    if (known == nullptr || known->empty()) return start;
    auto k = known->find(id);
    if (k == known->end()) return start;
    if (!k->second) return std::nullopt;
    return std::min(start, *k->second);
  }
  void Add(const common::TraceId& id, int64_t start) {
    auto effective = Effective(id, start);
    if (!effective) return;
    auto [it, inserted] = best.try_emplace(id, *effective);
    if (!inserted && *effective > it->second) it->second = *effective;
  }
  // The start time of the limit-th newest trace, or nullopt if fewer than `limit` traces.
  std::optional<int64_t> NthNewest(size_t limit) const;
};

// The entries of one service in one shard: an open (in-memory) block, or a sealed one decoded
// from its `B` row.
class Block {
 public:
  Block() = default;
  explicit Block(std::string service) : service_(std::move(service)) {}

  // Appends one entry (open blocks only). `origin_id`/`origin_terms` describe its origin.
  void Append(const IndexBatch& batch, const IndexBatch::Entry& e);
  size_t size() const { return sealed_ ? sealed_size_ : starts_.size(); }
  const std::string& service() const { return service_; }
  int64_t max_start() const { return max_start_; }

  struct Sealed {
    std::string block;   // the `B` row value (docs/storage.md, "Sealed block format")
    std::string filter;  // the `F` row value: a Bloom filter of every term of the block
  };
  Sealed Seal() const;
  // Decodes a sealed block's header. Postings, trace table and columns stay encoded in `data`
  // (which must outlive the block) until a search needs them.
  static std::optional<Block> Decode(std::string_view data);

  // One sealed block holding every entry of `blocks` (sealed blocks of one service), for fewer,
  // larger blocks: term keys, trace IDs and operations are then stored once for all of them.
  // Searches answer the same over the result as over the parts. nullopt if a part is malformed
  // or the parts are of different services.
  static std::optional<Sealed> Merge(const std::vector<std::string_view>& blocks);

  // Adds the traces of the entries matching `q` (the service is not checked here). On a sealed
  // block, tags are matched by 32-bit hash keys, so a trace added may be a false candidate:
  // callers verify (SpanMatches). False if a sealed block's columns turn out malformed. Not
  // thread-safe on sealed blocks (decodes lazily); open blocks need the caller's lock.
  bool Search(const TraceQuery& q, Hits& hits) const;

 private:
  // Marks in `bits` the entries having term `h` in their span terms or their origin's terms.
  void MarkTerm(uint64_t h, std::vector<bool>& bits) const;

  std::string service_;
  int64_t min_start_ = INT64_MAX, max_start_ = INT64_MIN, max_duration_ = 0;
  bool DecodeColumns() const;

  std::vector<std::string> ops_;
  size_t origin_count_ = 0;
  // Trace table and per-entry columns; for a sealed block decoded on first use.
  mutable std::vector<common::TraceId> traces_;
  mutable std::vector<uint32_t> trace_ord_, op_ids_, origin_ord_;
  mutable std::vector<int64_t> starts_, durations_;
  std::string_view encoded_traces_, encoded_columns_;
  size_t sealed_size_ = 0;
  mutable bool columns_decoded_ = false;
  // Open block: term occurrences, (hash, entry ordinal) and (hash, origin ordinal), and lookups.
  std::vector<std::pair<uint64_t, uint32_t>> span_terms_, origin_terms_;
  absl::flat_hash_map<std::string, uint32_t> op_index_;
  absl::flat_hash_map<common::TraceId, uint32_t, common::TraceIdHash> trace_index_;
  absl::flat_hash_map<uint64_t, uint32_t> origin_index_;
  // Sealed block: encoded postings, keyed by the top 32 bits of the term hash (index.cc).
  struct Postings {
    size_t count = 0;         // distinct keys
    int key_k = 0;            // Rice parameter of the key gaps
    uint64_t universe = 0;    // ordinals are below this: entries, or origins
    std::string_view groups;  // per 64 keys: u32 LE first key, u32 LE bit position in `bits`
    std::string_view bits;
    // The entries (or origins) of every term whose hash has the top 32 bits of `h`: a superset
    // of those having the term `h`.
    std::vector<uint32_t> Find(uint64_t h) const;
    // Calls fn(key, ordinal) for every posting; false if malformed.
    template <typename Fn>
    bool ForEach(Fn fn) const;
    // Decodes the keys from group `group` on, calling visit(key, ordinals) until it returns
    // false; false if malformed.
    template <typename Visit>
    bool Walk(size_t group, Visit visit) const;
  };
  Postings span_postings_, origin_postings_;
  bool sealed_ = false;
};

}  // namespace skua::storage
