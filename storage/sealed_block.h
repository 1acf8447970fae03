// Sealed search index blocks: the `B` row format (encoder and decoder together), searching a
// block read back from disk, and merging blocks. Private to storage/.
// The format is docs/storage.md, "Sealed block format".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/block_columns.h"
#include "storage/index.h"
#include "storage/postings.h"

namespace skua::storage {

// A sealed block's rows.
struct BlockRows {
  std::string block;   // the `B` row value
  std::string filter;  // the `F` row value: a Bloom filter of every term key of the block
};

// Encodes a block from its columns, term occurrences ((hash, entry ordinal) and (hash, origin
// ordinal)) and encoded value dictionary (storage/value_dictionary.h).
BlockRows EncodeBlock(const BlockColumns& columns,
                      const std::vector<std::pair<uint64_t, uint32_t>>& span_terms,
                      const std::vector<std::pair<uint64_t, uint32_t>>& origin_terms,
                      std::string_view dictionary);

// A block decoded from its `B` row, which must outlive it. Postings, trace table and columns
// stay encoded until a search needs them. Not thread-safe (columns are decoded on first use).
class SealedBlock {
 public:
  // Decodes the header; nullopt if malformed.
  static std::optional<SealedBlock> Decode(std::string_view data);

  // One block holding every entry of `blocks` (sealed blocks of one service), for fewer,
  // larger blocks: term keys, trace IDs and operations are then stored once for all of them.
  // Searches answer the same over the result as over the parts. nullopt if a part is malformed
  // or the parts are of different services.
  static std::optional<BlockRows> Merge(const std::vector<std::string_view>& blocks);

  size_t size() const { return size_; }
  const std::string& service() const { return columns_.service; }
  int64_t max_start() const { return columns_.max_start; }

  // Adds the traces of the entries matching `q` (the service is not checked here). Tags are
  // matched by 32-bit hash keys, so a trace added may be a false candidate: callers verify
  // (SpanMatches). False if the block's columns turn out malformed.
  bool Search(const TraceQuery& q, Hits& hits) const;

 private:
  bool DecodeColumns() const;

  size_t size_ = 0;
  // Header fields at Decode; per-entry columns and trace table on first use.
  mutable BlockColumns columns_;
  mutable bool columns_decoded_ = false;
  std::string_view encoded_traces_, encoded_columns_;
  std::string_view dictionary_;  // empty in blocks of format 5, written before dictionaries
  Postings span_postings_, origin_postings_;
};

}  // namespace skua::storage
