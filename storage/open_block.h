// An open (in-memory) search index block: the entries of one service appended by the shard's
// writer since the last seal. Private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/block_columns.h"
#include "storage/index.h"
#include "storage/sealed_block.h"
#include "storage/value_dictionary.h"

namespace skua::storage {

// Not thread-safe: the shard's open index (OpenIndex) guards it.
class OpenBlock {
 public:
  explicit OpenBlock(std::string service) { columns_.service = std::move(service); }

  void Append(const IndexBatch& batch, const IndexBatch::Entry& e);
  // Adds an attribute value to the block's value dictionary; `may_grow` as
  // ValueDictionaryBuilder::Add. Returns the change in the dictionary's bytes.
  int64_t AddValue(const IndexBatch::Value& v, bool may_grow);
  size_t size() const { return columns_.starts.size(); }
  const std::string& service() const { return columns_.service; }
  int64_t max_start() const { return columns_.max_start; }

  // Its rows in the sealed format.
  BlockRows Seal() const {
    return EncodeBlock(columns_, span_terms_, origin_terms_, values_.Encode());
  }

  // Adds the traces of the entries matching `q` (the service is not checked here).
  void Search(const TraceQuery& q, Hits& hits) const;

 private:
  BlockColumns columns_;
  // Term occurrences: (hash, entry ordinal) and (hash, origin ordinal).
  std::vector<std::pair<uint64_t, uint32_t>> span_terms_, origin_terms_;
  absl::flat_hash_map<std::string, uint32_t> op_index_;
  absl::flat_hash_map<common::TraceId, uint32_t, common::TraceIdHash> trace_index_;
  absl::flat_hash_map<uint64_t, uint32_t> origin_index_;
  ValueDictionaryBuilder values_;
};

}  // namespace skua::storage
