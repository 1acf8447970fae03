// The search index of one shard (docs/storage.md, "Search index"). Internal to storage/.
//
// Every acknowledged span has an index entry: trace ID, start, duration, operation, and the
// 64-bit hashes of its search terms (storage/span_terms.h). Terms of the span itself are kept
// per entry; terms of its resource and scope per "origin" (resource + scope), once.
//
// Life of an entry: built on the receiver thread (IndexBatch), appended by the shard writer,
// right after the write batch holding the span is durable, to the open block of the span's
// service (storage/open_block.h), where searches see it at once. Open blocks are sealed into
// one `B` row per service (storage/sealed_block.h).
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
#include "absl/container/flat_hash_set.h"
#include "common/ids.h"
#include "storage/attribute_catalog.h"
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
  // An attribute value for the value dictionary of its service's block
  // (storage/value_dictionary.h); each distinct (service, key, value) of the batch once.
  struct Value {
    uint32_t service;  // into strings
    uint64_t key_state, term;
    std::string text;  // empty when longer than a dictionary lists (then `too_long`)
    bool too_long;
  };
  struct CatalogEntry {
    uint32_t service, operation;
    uint8_t kind;
  };
  std::string tenant;                // whose spans ("" = no tenancy)
  std::vector<std::string> strings;  // service and operation names
  std::vector<Origin> origins;
  std::vector<Entry> entries;
  std::vector<uint64_t> terms;
  std::vector<CatalogEntry> catalog;  // distinct (service, operation, kind) of the entries
  std::vector<Value> values;
  // The spans' attributes for the attribute catalog, by service (storage/attribute_catalog.h).
  std::vector<AttributeOccurrence> attributes;

  size_t ApproxBytes() const;
};

class IndexBatchBuilder {
 public:
  IndexBatchBuilder() = default;
  // The batch is `tenant`'s; the span attributes of `truncated` keys are sampled for the
  // attribute catalog (AttributeCatalog::kSampleEvery).
  IndexBatchBuilder(std::string_view tenant, std::shared_ptr<const TruncatedKeys> truncated);
  void Add(const SpanRef& ref);
  IndexBatch Finish();

 private:
  uint32_t Intern(std::string_view s);
  void AddValue(uint32_t service, uint64_t key_state, uint64_t term, std::string_view text);
  // Counts `count` occurrences of an attribute for the attribute catalog.
  void Occur(uint32_t service, filter::Level level, std::string_view key, uint64_t key_state,
             uint64_t term, const opentelemetry::proto::common::v1::AnyValue& value,
             std::string_view text, uint32_t count);

  std::string tenant_;
  std::shared_ptr<const TruncatedKeys> truncated_;
  absl::flat_hash_map<uint64_t, uint32_t> occurrences_;  // into batch_.attributes
  absl::flat_hash_map<uint32_t, uint64_t> service_ids_;  // service string -> KeyId's part
  // Spans per resource and per scope (with their service), whose attributes count once per span.
  absl::flat_hash_map<const void*, std::pair<uint32_t, uint32_t>> resource_spans_, scope_spans_;

  IndexBatch batch_;
  absl::flat_hash_map<std::string, uint32_t> strings_;
  absl::flat_hash_map<std::pair<const void*, const void*>, uint32_t> origins_;
  absl::flat_hash_map<const void*, uint32_t> services_;
  absl::flat_hash_map<uint64_t, bool> catalog_seen_;
  absl::flat_hash_set<uint64_t> values_seen_;  // (service, term) of batch_.values
};

// PrepareWrite (span_store.h) with the index entries built by `index`.
PreparedWrite PrepareWrite(std::string_view tenant, std::span<const SpanRef> spans,
                           const RetentionPolicy& retention, IndexBatchBuilder index);

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

}  // namespace skua::storage
