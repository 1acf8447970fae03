// Searching a shard: the open index, then the sealed blocks of its live partitions newest
// first, with the results of searches by tag verified against the spans.

#include <fmt/format.h>
#include <rocksdb/db.h>

#include <functional>

#include "absl/container/flat_hash_set.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "storage/keys.h"
#include "storage/rocks_options.h"
#include "storage/sealed_block.h"
#include "storage/shard.h"
#include "storage/span_terms.h"
#include "storage/term_filter.h"

namespace skua::storage {
namespace {

// Whether the trace's duration (earliest start to latest end of its stored spans) is within
// the query's trace duration bounds.
bool TraceDurationWithin(const TraceQuery& q, const otlp::TracesData& trace) {
  if (q.trace_duration_min_ns == 0 && q.trace_duration_max_ns == 0) return true;
  uint64_t first = UINT64_MAX, last = 0;
  for (const auto& rs : trace.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        first = std::min<uint64_t>(first, span.start_time_unix_nano());
        last = std::max<uint64_t>(last, span.end_time_unix_nano());
      }
    }
  }
  uint64_t d = last > first ? last - first : 0;
  if (d > static_cast<uint64_t>(INT64_MAX)) d = INT64_MAX;
  auto duration = static_cast<int64_t>(d);
  return duration >= q.trace_duration_min_ns &&
         (q.trace_duration_max_ns == 0 || duration <= q.trace_duration_max_ns);
}

// The start of the trace's newest span matching `q`; nullopt if none (or if the trace's
// duration is outside the query's trace duration bounds).
std::optional<int64_t> NewestMatchingStart(const TraceQuery& q, const otlp::TracesData& trace) {
  if (!TraceDurationWithin(q, trace)) return std::nullopt;
  std::optional<int64_t> newest;
  for (const auto& rs : trace.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (!SpanMatches(q, rs, ss, span)) continue;
        int64_t start = static_cast<int64_t>(span.start_time_unix_nano());
        if (!newest || start > *newest) newest = start;
      }
    }
  }
  return newest;
}

// Whether a trace placed at `start` comes after the page cursor of `q` (if any).
bool AfterCursor(const TraceQuery& q, const common::TraceId& id, int64_t start) {
  if (!q.after) return true;
  return start < q.after->start_ns || (start == q.after->start_ns && q.after->trace_id < id);
}

}  // namespace

// This shard's part of a search: its `limit` newest matching traces, newest first (ties by
// trace ID). With tags, sealed blocks yield candidates (their postings are keyed by 32 bits
// of the term hash), and with a filter the index knows only what the filter implies
// (filter::Narrow), so the answer is verified against the spans: a candidate that does not
// match is excluded and the index walked again, until the top `limit` are all verified. The
// same holds for bounds on the trace's duration, which only the whole trace can tell. A filter
// or a trace duration bound may reject most candidates, so each of their walks takes twice as
// many candidates as the one before (up to 4,096), instead of `limit` at a time.
absl::Status Shard::Search(const TraceQuery& q, const std::vector<std::string>& services,
                           std::vector<TraceHit>& out) {
  absl::flat_hash_map<common::TraceId, std::optional<int64_t>, common::TraceIdHash> known;
  absl::flat_hash_map<common::TraceId, std::shared_ptr<otlp::TracesData>, common::TraceIdHash>
      read;  // the traces verification read
  const size_t limit = static_cast<size_t>(std::max(q.limit, 1));
  const bool trace_level = q.trace_duration_min_ns != 0 || q.trace_duration_max_ns != 0;
  // A page after a cursor walks the index up to the cursor's start only, and learns from the
  // trace itself whether a newer matching span places the trace before the cursor.
  const bool verify =
      !q.tags.empty() || !q.any_tags.empty() || q.filter != nullptr || trace_level || q.after;
  TraceQuery walk = q;
  if (q.after && (q.start_max_ns == 0 || q.after->start_ns < q.start_max_ns)) {
    walk.start_max_ns = q.after->start_ns;
  }
  for (;;) {
    SKUA_RETURN_IF_ERROR(CheckDeadline(q));
    Hits hits;
    hits.known = &known;
    SKUA_RETURN_IF_ERROR(WalkIndex(walk, services, hits));
    out.clear();
    for (const auto& [id, start] : hits.best) out.push_back({id, start, nullptr});
    KeepNewest(out, static_cast<size_t>(walk.limit));
    if (!verify) return absl::OkStatus();
    // Verify candidates in order until `limit` of them are confirmed where the index put them
    // (a candidate that does not match, or whose newest matching span is older, moves); the
    // answer is settled when the first `limit` are all confirmed: every later candidate, read
    // or not, is placed no higher than the index put it.
    size_t confirmed = 0;
    for (size_t i = 0; i < out.size() && confirmed < limit; ++i) {
      const TraceHit& hit = out[i];
      auto [it, fresh] = known.try_emplace(hit.trace_id);
      if (fresh) {
        SKUA_RETURN_IF_ERROR(CheckDeadline(q));
        auto trace = GetTrace(q.tenant, hit.trace_id);
        if (!trace.ok()) return trace.status();
        if (*trace) {
          auto stored = std::make_shared<otlp::TracesData>(std::move(**trace));
          it->second = NewestMatchingStart(q, *stored);
          if (it->second && !AfterCursor(q, hit.trace_id, *it->second)) it->second.reset();
          // Kept only where the answer may take it from (memory stays bounded by `limit`
          // traces); a trace that rises into the answer later is read again.
          if (it->second && i < limit) read.emplace(hit.trace_id, std::move(stored));
        }
      }
      if (it->second == hit.start_ns) ++confirmed;
    }
    bool settled = true;
    for (size_t i = 0; i < out.size() && i < limit; ++i) {
      auto k = known.find(out[i].trace_id);
      settled = settled && k != known.end() && k->second == out[i].start_ns;
    }
    if (settled) {
      KeepNewest(out, limit);
      for (TraceHit& hit : out) {
        if (auto r = read.find(hit.trace_id); r != read.end()) hit.trace = std::move(r->second);
      }
      return absl::OkStatus();
    }
    absl::flat_hash_set<common::TraceId, common::TraceIdHash> keep;
    for (size_t i = 0; i < out.size() && i < limit; ++i) keep.insert(out[i].trace_id);
    absl::erase_if(read, [&](const auto& entry) { return !keep.contains(entry.first); });
    if (q.filter != nullptr || trace_level || q.after) {
      walk.limit = std::min(std::max(walk.limit, 1) * 2, 4096);
    }
  }
}

// Adds to `hits` the index entries of this shard matching `q`, newest blocks first, reading
// no block that cannot change the `limit` newest.
absl::Status Shard::WalkIndex(const TraceQuery& q, const std::vector<std::string>& services,
                              Hits& hits) {
  open_index_.Search(q, hits);
  size_t limit = static_cast<size_t>(std::max(q.limit, 1));
  // With tags, walk the small filter rows and read a block only when its filter may hold
  // every tag; without, walk the blocks themselves.
  std::vector<uint64_t> tag_hashes;
  for (const auto& [k, v] : q.tags) tag_hashes.push_back(TermHash(k, v));
  std::vector<std::vector<uint64_t>> group_hashes;
  for (const auto& group : q.any_tags) {
    group_hashes.emplace_back();
    for (const auto& [k, v] : group) group_hashes.back().push_back(TermHash(k, v));
  }
  bool use_filters = !tag_hashes.empty() || !group_hashes.empty();
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  // One consistent view for filters and blocks: a merge replacing blocks meanwhile is either
  // wholly seen or not at all.
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> snap(
      db_->GetSnapshot(), [this](const rocksdb::Snapshot* s) { db_->ReleaseSnapshot(s); });
  ro.snapshot = snap.get();
  rocksdb::PinnableSlice block_value;
  uint64_t blocks_seen = 0;
  for (const auto& part : LivePartitions(q.tenant)) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, part.index_cf.get()));
    for (const auto& service : services) {
      SKUA_RETURN_IF_ERROR(CheckDeadline(q));
      uint64_t service_hash = common::StableHash64(service);
      std::string prefix = use_filters ? FilterPrefix(service_hash) : BlockPrefix(service_hash);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        std::string_view key(it->key().data(), it->key().size());
        if (key.size() != 25) continue;
        if ((++blocks_seen & 15) == 0) SKUA_RETURN_IF_ERROR(CheckDeadline(q));
        int64_t max_start = BlockKeyMaxStart(key);
        // Blocks come newest first: nothing older can enter the result any more.
        if (q.start_min_ns != 0 && max_start < q.start_min_ns) break;
        if (auto nth = hits.NthNewest(limit); nth && *nth > max_start) break;
        std::string_view value(it->value().data(), it->value().size());
        if (use_filters) {
          bool may = true;
          for (uint64_t h : tag_hashes) may = may && FilterMayContain(value, h);
          for (const auto& group : group_hashes) {
            may = may && std::any_of(group.begin(), group.end(),
                                     [&](uint64_t h) { return FilterMayContain(value, h); });
          }
          if (!may) continue;
          block_value.Reset();
          auto s = db_->Get(ro, part.index_cf.get(), BlockKeyOf(key), &block_value);
          if (s.IsNotFound()) continue;
          if (!s.ok()) return FromRocks(s, "read index block");
          value = std::string_view(block_value.data(), block_value.size());
        }
        auto block = SealedBlock::Decode(value);
        if (!block) {
          Unreadable(fmt::format("index block {} in {}", common::HexEncode(key), part.name));
          continue;
        }
        if (block->service() != service) continue;  // a hash collision between services
        if (!block->Search(q, hits)) {
          Unreadable(fmt::format("index block {} in {}", common::HexEncode(key), part.name));
        }
      }
      if (!it->status().ok()) return FromRocks(it->status(), "search index");
    }
  }
  return absl::OkStatus();
}

absl::Status Shard::CheckDeadline(const TraceQuery& q) const {
  if (q.deadline_ns == 0 || clock_.NowNanos() <= q.deadline_ns) return absl::OkStatus();
  return absl::DeadlineExceededError("the search ran out of time");
}

}  // namespace skua::storage
