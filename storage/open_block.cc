// Open search index blocks: appending entries and searching them in memory.

#include "storage/open_block.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "filter/filter.h"
#include "storage/span_terms.h"

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

int64_t OpenBlock::AddValue(const IndexBatch::Value& v, bool may_grow) {
  auto before = static_cast<int64_t>(values_.bytes());
  if (v.too_long) {
    values_.MarkIncomplete(v.key_state);
  } else {
    values_.Add(v.key_state, v.term, v.text, may_grow);
  }
  return static_cast<int64_t>(values_.bytes()) - before;
}

void OpenBlock::Search(const TraceQuery& q, Hits& hits) const {
  std::optional<uint32_t> op;
  if (size() == 0 || !columns_.MayMatch(q, op)) return;
  std::vector<std::vector<uint64_t>> pattern_terms;
  for (const auto& p : q.patterns) {
    DictionaryAnswer a = values_.Match(TermKeyState(p.key), [&](std::string_view v) {
      return filter::PatternMatches(*p.pattern, v);
    });
    if (!a.known) continue;
    if (a.terms.empty()) return;
    pattern_terms.push_back(std::move(a.terms));
  }
  columns_.Collect(
      q, size(), op, pattern_terms,
      [&](std::span<const uint64_t> group, std::vector<bool>& entries, std::vector<bool>& origins) {
        auto mark = [&](auto&& has) {
          for (const auto& [t, i] : span_terms_) {
            if (has(t)) entries[i] = true;
          }
          for (const auto& [t, g] : origin_terms_) {
            if (has(t)) origins[g] = true;
          }
        };
        if (group.size() == 1) {
          mark([h = group[0]](uint64_t t) { return t == h; });
          return;
        }
        // One pass over the occurrences for the whole group: a pattern's may hold many terms.
        absl::flat_hash_set<uint64_t> wanted(group.begin(), group.end());
        mark([&](uint64_t t) { return wanted.contains(t); });
      },
      hits);
}

}  // namespace skua::storage
