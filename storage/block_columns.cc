// Answering a search from a block's columns: the same for open and sealed blocks.

#include "storage/block_columns.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "storage/span_terms.h"

namespace skua::storage {

bool BlockColumns::MayMatch(const TraceQuery& q, std::optional<uint32_t>& op) const {
  op.reset();
  if (q.start_max_ns != 0 && min_start > q.start_max_ns) return false;
  if (q.start_min_ns != 0 && max_start < q.start_min_ns) return false;
  if (q.duration_min_ns != 0 && max_duration < q.duration_min_ns) return false;
  if (!q.operation.empty()) {
    for (uint32_t i = 0; i < ops.size(); ++i) {
      if (ops[i] == q.operation) op = i;
    }
    if (!op) return false;
  }
  return true;
}

void BlockColumns::Collect(const TraceQuery& q, size_t n, std::optional<uint32_t> op,
                           const std::vector<std::vector<uint64_t>>& term_groups, TermMarker mark,
                           Hits& hits) const {
  // Entries having every tag: the intersection of each tag's marks; an entry has a tag if it
  // has it itself or its origin (resource and scope) has it.
  // A group of `any_tags` marks the union of its tags' entries.
  std::vector<bool> all;
  bool first = true;
  auto intersect = [&](std::span<const uint64_t> group) {
    std::vector<bool> bits(n, false), origins(origin_count, false);
    mark(group, bits, origins);
    if (std::find(origins.begin(), origins.end(), true) != origins.end()) {
      for (size_t i = 0; i < n; ++i) {
        if (origins[origin_ord[i]]) bits[i] = true;
      }
    }
    if (first) {
      all = std::move(bits);
      first = false;
    } else {
      for (size_t i = 0; i < n; ++i) all[i] = all[i] && bits[i];
    }
  };
  for (const auto& [k, v] : q.tags) {
    uint64_t h = TermHash(k, v);
    intersect(std::span<const uint64_t>(&h, 1));
  }
  for (const auto& group : q.any_tags) {
    std::vector<uint64_t> hashes;
    for (const auto& [k, v] : group) hashes.push_back(TermHash(k, v));
    intersect(hashes);
  }
  for (const auto& group : term_groups) intersect(group);
  // Matching entries, then only this block's `limit` newest traces go to `hits`: a trace not
  // among them has `limit` newer ones here already, so it cannot make the overall result.
  std::vector<std::pair<int64_t, uint32_t>> matches;  // (start, trace ordinal)
  for (size_t i = 0; i < n; ++i) {
    if (!first && !all[i]) continue;
    int64_t s = starts[i];
    if (q.start_min_ns != 0 && s < q.start_min_ns) continue;
    if (q.start_max_ns != 0 && s > q.start_max_ns) continue;
    int64_t d = durations[i];
    if (q.duration_min_ns != 0 && d < q.duration_min_ns) continue;
    if (q.duration_max_ns != 0 && d > q.duration_max_ns) continue;
    if (op && op_ids[i] != *op) continue;
    auto effective = hits.Effective(traces[trace_ord[i]], s);
    if (effective) matches.emplace_back(*effective, trace_ord[i]);
  }
  size_t limit = static_cast<size_t>(std::max(q.limit, 1));
  auto newest_first = [](const auto& a, const auto& b) { return a.first > b.first; };
  // Spans of one trace rarely repeat much within a block, so 8x the limit almost always holds
  // `limit` distinct traces; if not, sort everything.
  size_t k = std::min(matches.size(), limit * 8);
  for (bool full = false;; full = true) {
    if (full) k = matches.size();
    std::partial_sort(matches.begin(), matches.begin() + static_cast<long>(k), matches.end(),
                      newest_first);
    absl::flat_hash_map<uint32_t, bool> taken;
    for (size_t i = 0; i < k && taken.size() < limit; ++i) {
      if (taken.try_emplace(matches[i].second, true).second) {
        hits.Add(traces[matches[i].second], matches[i].first);
      }
    }
    if (taken.size() >= limit || k == matches.size()) break;
  }
}

}  // namespace skua::storage
