// What every search index block holds once decoded, open or sealed: the entries' columns, and
// how a search is answered from them. Private to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "common/ids.h"
#include "storage/index.h"
#include "storage/span_store.h"

namespace skua::storage {

// The entries of one service's block, in arrival order (ordinal i = entry i).
struct BlockColumns {
  std::string service;
  int64_t min_start = INT64_MAX, max_start = INT64_MIN, max_duration = 0;
  std::vector<std::string> ops;  // operation names, by id
  size_t origin_count = 0;
  std::vector<common::TraceId> traces;  // distinct trace IDs, by ordinal
  // Per entry.
  std::vector<uint32_t> trace_ord, op_ids, origin_ord;
  std::vector<int64_t> starts, durations;

  // The operation id `q` asks for: nullopt when `q` names none. False if the block's bounds
  // (times, durations, operations) rule out every entry.
  bool MayMatch(const TraceQuery& q, std::optional<uint32_t>& op) const;

  // Marks the entries having one of the terms `group` themselves (`entries`, by ordinal) and
  // the origins having one (`origins`).
  using TermMarker = absl::FunctionRef<void(
      std::span<const uint64_t> group, std::vector<bool>& entries, std::vector<bool>& origins)>;
  // Adds to `hits` this block's `q.limit` newest traces among the `n` entries matching `q`
  // (the service is not checked; `op` from MayMatch) that also have a term of each group of
  // `term_groups` (what the query's patterns imply in this block). The columns must be decoded.
  void Collect(const TraceQuery& q, size_t n, std::optional<uint32_t> op,
               const std::vector<std::vector<uint64_t>>& term_groups, TermMarker mark,
               Hits& hits) const;
};

}  // namespace skua::storage
