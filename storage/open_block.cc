// Open search index blocks: appending entries and searching them in memory.

#include "storage/open_block.h"

#include <algorithm>

namespace skua::storage {

void OpenBlock::Append(const IndexBatch& batch, const IndexBatch::Entry& e) {
  BlockColumns& c = columns_;
  uint32_t ordinal = static_cast<uint32_t>(c.starts.size());
  const std::string& op = batch.strings[e.operation];
  auto oit = op_index_.find(op);
  if (oit == op_index_.end()) {
    oit = op_index_.emplace(op, static_cast<uint32_t>(c.ops.size())).first;
    c.ops.push_back(op);
  }
  auto [tit, new_trace] =
      trace_index_.try_emplace(e.trace_id, static_cast<uint32_t>(c.traces.size()));
  if (new_trace) c.traces.push_back(e.trace_id);
  const IndexBatch::Origin& origin = batch.origins[e.origin];
  auto [git, new_origin] =
      origin_index_.try_emplace(origin.id, static_cast<uint32_t>(c.origin_count));
  if (new_origin) {
    for (uint64_t t : origin.terms) origin_terms_.emplace_back(t, git->second);
    ++c.origin_count;
  }
  c.trace_ord.push_back(tit->second);
  c.op_ids.push_back(oit->second);
  c.origin_ord.push_back(git->second);
  c.starts.push_back(e.start_ns);
  c.durations.push_back(e.duration_ns);
  for (uint32_t i = e.terms_begin; i < e.terms_end; ++i) {
    span_terms_.emplace_back(batch.terms[i], ordinal);
  }
  c.min_start = std::min(c.min_start, e.start_ns);
  c.max_start = std::max(c.max_start, e.start_ns);
  c.max_duration = std::max(c.max_duration, e.duration_ns);
}

void OpenBlock::Search(const TraceQuery& q, Hits& hits) const {
  std::optional<uint32_t> op;
  if (size() == 0 || !columns_.MayMatch(q, op)) return;
  columns_.Collect(
      q, size(), op,
      [&](uint64_t h, std::vector<bool>& entries, std::vector<bool>& origins) {
        for (const auto& [t, i] : span_terms_) {
          if (t == h) entries[i] = true;
        }
        for (const auto& [t, g] : origin_terms_) {
          if (t == h) origins[g] = true;
        }
      },
      hits);
}

}  // namespace skua::storage
