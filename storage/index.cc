#include "storage/index.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/hash.h"
#include "model/values.h"
#include "storage/coding.h"
#include "storage/keys.h"
#include "storage/span_terms.h"
#include "storage/term_filter.h"

namespace skua::storage {
namespace {

constexpr uint8_t kBlockFormat = 5;

int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

uint64_t SpanIdValue(std::string_view raw) {
  if (raw.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

// Postings of a sealed block. A term is keyed by the top 32 bits of its hash only: terms
// sharing a key share one postings list, so a match is a candidate, and the search verifies
// candidates against the spans themselves (SpanStore::FindTraces).
//
// Keys are uniformly spread 32-bit values and most terms of a block occur once or twice, so
// keys and ordinals are stored as gaps in Golomb-Rice codes (a Rice code with parameter k of
// v: v >> k in unary, then the k low bits), bit-packed least significant bit first:
//
//   var n · u8 key_k · ceil(n / 64) × (u32 LE key, u32 LE bit position) of every 64th term ·
//   str bits: per term, ascending by key:
//     unless first of its group of 64: Rice(key_k) of (key - previous key - 1)
//     count of ordinals: c in Elias-gamma form (floor(log2 c) in unary, then the bits below
//       the leading one)
//     c × Rice(k) of the ordinal gaps (first ordinal, then ordinal - previous - 1), where
//       k = floor(log2(universe / c)) and the universe is the block's entry (or origin) count
//
// A unary run of 32 ones is an escape: the value follows as 64 plain bits. On 16 K-entry blocks
// a key then costs ~2.2 bytes (it was a u32 and a length byte) and an ordinal 13-15 bits (it was
// a 2-byte varint).
constexpr size_t kPostingsGroup = 64;

// The Rice parameter of a term's ordinal gaps: the mean gap of `count` ordinals spread over
// `universe` entries, rounded down to a power of two.
int OrdinalRiceParameter(uint64_t universe, uint64_t count) {
  uint64_t mean = count == 0 ? 0 : universe / count;
  return mean == 0 ? 0 : std::min(31, static_cast<int>(std::bit_width(mean)) - 1);
}

// Writes postings from (hash, ordinal) pairs whose ordinals are below `universe`; returns the
// distinct keys, ascending.
std::vector<uint32_t> WritePostings(ByteWriter& o,
                                    const std::vector<std::pair<uint64_t, uint32_t>>& pairs,
                                    uint64_t universe) {
  std::vector<std::pair<uint32_t, uint32_t>> keyed;  // (key, ordinal)
  keyed.reserve(pairs.size());
  for (const auto& [h, ord] : pairs) keyed.emplace_back(PostingsKey(h), ord);
  std::sort(keyed.begin(), keyed.end());
  keyed.erase(std::unique(keyed.begin(), keyed.end()), keyed.end());
  std::vector<uint32_t> keys;
  for (const auto& [key, ord] : keyed) {
    if (keys.empty() || keys.back() != key) keys.push_back(key);
  }
  uint64_t mean_gap =
      keys.size() < 2 ? 0 : (uint64_t{keys.back()} - keys.front()) / (keys.size() - 1);
  const int key_k = mean_gap == 0 ? 0 : static_cast<int>(std::bit_width(mean_gap)) - 1;
  ByteWriter groups;
  BitWriter bits;
  for (size_t i = 0, t = 0; i < keyed.size(); ++t) {
    const uint32_t key = keyed[i].first;
    if (t % kPostingsGroup == 0) {
      groups.Fixed(key, 4);
      groups.Fixed(bits.bit_position(), 4);
    } else {
      bits.Rice(key - keys[t - 1] - 1, key_k);
    }
    size_t end = i;
    while (end < keyed.size() && keyed[end].first == key) ++end;
    bits.Gamma(end - i);
    const int k = OrdinalRiceParameter(universe, end - i);
    for (uint32_t next = 0; i < end; ++i) {
      bits.Rice(keyed[i].second - next, k);
      next = keyed[i].second + 1;
    }
  }
  o.Var(keys.size());
  o.U8(static_cast<uint8_t>(key_k));
  o.Bytes(groups.Take());
  o.Str(bits.Take());
  return keys;
}

}  // namespace

// ---- IndexBatch ----

size_t IndexBatch::ApproxBytes() const {
  size_t n = entries.size() * sizeof(Entry) + terms.size() * 8;
  for (const auto& o : origins) n += o.terms.size() * 8 + sizeof(Origin);
  for (const auto& s : strings) n += s.size() + 32;
  return n;
}

uint32_t IndexBatchBuilder::Intern(std::string_view s) {
  auto it = strings_.find(absl::string_view(s.data(), s.size()));
  if (it != strings_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(batch_.strings.size());
  batch_.strings.emplace_back(s);
  strings_.emplace(std::string(s), id);
  return id;
}

void IndexBatchBuilder::Add(const SpanRef& ref) {
  const auto& span = *ref.span;
  auto [oit, new_origin] = origins_.try_emplace(std::make_pair(ref.resource, ref.scope), 0);
  if (new_origin) {
    IndexBatch::Origin o;
    auto add = [&](std::string_view k, std::string_view v) { o.terms.push_back(TermHash(k, v)); };
    ForEachResourceTerm(ref.resource->resource(), add);
    ForEachScopeTerm(ref.scope->scope(), add);
    o.id = 0;
    for (uint64_t t : o.terms) o.id = Mix(o.id, t);
    oit->second = static_cast<uint32_t>(batch_.origins.size());
    batch_.origins.push_back(std::move(o));
  }
  auto [sit, new_service] = services_.try_emplace(ref.resource, 0);
  if (new_service) sit->second = Intern(model::ServiceNameOf(ref.resource->resource()));

  IndexBatch::Entry e;
  std::memcpy(e.trace_id.bytes.data(), span.trace_id().data(), 16);
  e.span_id = SpanIdValue(span.span_id());
  e.parent_span_id = SpanIdValue(span.parent_span_id());
  e.start_ns = static_cast<int64_t>(span.start_time_unix_nano());
  e.duration_ns =
      span.end_time_unix_nano() > span.start_time_unix_nano()
          ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
          : 0;
  e.service = sit->second;
  e.operation = Intern(span.name().empty() ? "empty-span-name" : span.name());
  e.origin = oit->second;
  e.kind = static_cast<uint8_t>(span.kind());
  e.terms_begin = static_cast<uint32_t>(batch_.terms.size());
  ForEachSpanTerm(span, [&](std::string_view k, std::string_view v) {
    batch_.terms.push_back(TermHash(k, v));
  });
  e.terms_end = static_cast<uint32_t>(batch_.terms.size());
  batch_.entries.push_back(e);
  uint64_t cat =
      (static_cast<uint64_t>(e.service) << 40) ^ (static_cast<uint64_t>(e.operation) << 8) ^ e.kind;
  if (catalog_seen_.try_emplace(cat, true).second) {
    batch_.catalog.push_back({e.service, e.operation, e.kind});
  }
}

// ---- Hits ----

std::optional<int64_t> Hits::NthNewest(size_t limit) const {
  if (limit == 0 || best.size() < limit) return std::nullopt;
  std::vector<int64_t> starts;
  starts.reserve(best.size());
  for (const auto& [id, s] : best) starts.push_back(s);
  std::nth_element(starts.begin(), starts.begin() + static_cast<long>(limit - 1), starts.end(),
                   std::greater<>());
  return starts[limit - 1];
}

// ---- Block ----

void Block::Append(const IndexBatch& batch, const IndexBatch::Entry& e) {
  uint32_t ordinal = static_cast<uint32_t>(starts_.size());
  const std::string& op = batch.strings[e.operation];
  auto oit = op_index_.find(op);
  if (oit == op_index_.end()) {
    oit = op_index_.emplace(op, static_cast<uint32_t>(ops_.size())).first;
    ops_.push_back(op);
  }
  auto [tit, new_trace] =
      trace_index_.try_emplace(e.trace_id, static_cast<uint32_t>(traces_.size()));
  if (new_trace) traces_.push_back(e.trace_id);
  const IndexBatch::Origin& origin = batch.origins[e.origin];
  auto [git, new_origin] =
      origin_index_.try_emplace(origin.id, static_cast<uint32_t>(origin_count_));
  if (new_origin) {
    for (uint64_t t : origin.terms) origin_terms_.emplace_back(t, git->second);
    ++origin_count_;
  }
  trace_ord_.push_back(tit->second);
  op_ids_.push_back(oit->second);
  origin_ord_.push_back(git->second);
  starts_.push_back(e.start_ns);
  durations_.push_back(e.duration_ns);
  for (uint32_t i = e.terms_begin; i < e.terms_end; ++i) {
    span_terms_.emplace_back(batch.terms[i], ordinal);
  }
  min_start_ = std::min(min_start_, e.start_ns);
  max_start_ = std::max(max_start_, e.start_ns);
  max_duration_ = std::max(max_duration_, e.duration_ns);
}

Block::Sealed Block::Seal() const {
  ByteWriter o;
  o.U8(kBlockFormat);
  o.Str(service_);
  size_t n = size();
  o.Var(n);
  o.SVar(min_start_);
  o.SVar(max_start_);
  o.SVar(max_duration_);
  o.Var(ops_.size());
  for (const auto& op : ops_) o.Str(op);
  o.Var(origin_count_);
  // Postings before the columns, so a search whose tags a block lacks stops here.
  std::vector<uint32_t> keys = WritePostings(o, span_terms_, n);
  std::vector<uint32_t> origin_keys = WritePostings(o, origin_terms_, origin_count_);
  keys.insert(keys.end(), origin_keys.begin(), origin_keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string traces;
  traces.reserve(traces_.size() * 16);
  for (const auto& t : traces_) traces.append(t.AsBytes());
  o.Str(traces);
  ByteWriter c;
  // Trace ordinals as differences from the previous entry's: a trace's spans mostly arrive
  // together, so most differences are 0 or 1.
  for (size_t i = 0; i < n; ++i) {
    c.SVar(static_cast<int64_t>(trace_ord_[i]) -
           (i == 0 ? 0 : static_cast<int64_t>(trace_ord_[i - 1])));
  }
  // Starts as differences from the previous entry's (the first from min_start): entries come
  // in arrival order, so neighbours are close in time.
  // Two's-complement differences: any pair of 64-bit starts round-trips.
  for (size_t i = 0; i < n; ++i) {
    c.SVar(WrappingSub(starts_[i], i == 0 ? min_start_ : starts_[i - 1]));
  }
  for (size_t i = 0; i < n; ++i) c.SVar(durations_[i]);
  for (size_t i = 0; i < n; ++i) c.Var(op_ids_[i]);
  for (size_t i = 0; i < n; ++i) c.Var(origin_ord_[i]);
  o.Str(c.Take());
  Sealed out;
  out.block = o.Take();
  out.filter = BuildTermFilter(keys);
  return out;
}

std::optional<Block> Block::Decode(std::string_view data) {
  ByteReader in(data);
  if (in.U8() != kBlockFormat) return std::nullopt;
  Block b(std::string(in.Str()));
  b.sealed_ = true;
  b.sealed_size_ = in.Count(0);
  b.min_start_ = in.SVar();
  b.max_start_ = in.SVar();
  b.max_duration_ = in.SVar();
  size_t nops = in.Count(1);
  for (size_t i = 0; i < nops && in.ok(); ++i) b.ops_.emplace_back(in.Str());
  b.origin_count_ = in.Var();
  for (auto [p, universe] : {std::pair{&b.span_postings_, uint64_t{b.sealed_size_}},
                             std::pair{&b.origin_postings_, uint64_t{b.origin_count_}}}) {
    p->count = in.Var();
    p->key_k = in.U8();
    p->groups = in.Bytes((p->count / kPostingsGroup + (p->count % kPostingsGroup != 0)) * 8);
    p->bits = in.Str();
    p->universe = universe;
    if (p->key_k > 31) return std::nullopt;
  }
  b.encoded_traces_ = in.Str();
  b.encoded_columns_ = in.Str();
  if (!in.ok() || b.encoded_traces_.size() % 16 != 0) return std::nullopt;
  return b;
}

bool Block::DecodeColumns() const {
  if (!sealed_ || columns_decoded_) return true;
  size_t n = sealed_size_;
  size_t ntraces = encoded_traces_.size() / 16;
  traces_.resize(ntraces);
  for (size_t i = 0; i < ntraces; ++i) {
    std::memcpy(traces_[i].bytes.data(), encoded_traces_.data() + 16 * i, 16);
  }
  ByteReader in(encoded_columns_);
  trace_ord_.resize(n);
  starts_.resize(n);
  durations_.resize(n);
  op_ids_.resize(n);
  origin_ord_.resize(n);
  for (size_t i = 0, prev = 0; i < n; ++i) {
    prev = static_cast<uint32_t>(prev + static_cast<uint64_t>(in.SVar()));
    trace_ord_[i] = static_cast<uint32_t>(prev);
  }
  for (size_t i = 0; i < n; ++i) {
    starts_[i] = WrappingAdd(i == 0 ? min_start_ : starts_[i - 1], in.SVar());
  }
  for (size_t i = 0; i < n; ++i) durations_[i] = in.SVar();
  for (size_t i = 0; i < n; ++i) op_ids_[i] = static_cast<uint32_t>(in.Var());
  for (size_t i = 0; i < n; ++i) origin_ord_[i] = static_cast<uint32_t>(in.Var());
  if (!in.ok()) return false;
  for (size_t i = 0; i < n; ++i) {
    if (trace_ord_[i] >= ntraces || op_ids_[i] >= ops_.size() || origin_ord_[i] >= origin_count_) {
      return false;
    }
  }
  columns_decoded_ = true;
  return true;
}

template <typename Visit>
bool Block::Postings::Walk(size_t group, Visit visit) const {
  if (group >= groups.size() / 8) return true;
  BitReader r(bits, LoadFixedLE(groups.data() + group * 8 + 4, 4));
  std::vector<uint32_t> ords;
  uint64_t key = 0;
  for (size_t t = group * kPostingsGroup; t < count; ++t) {
    if (t % kPostingsGroup == 0) {
      key = LoadFixedLE(groups.data() + t / kPostingsGroup * 8, 4);
    } else {
      uint64_t gap = r.Rice(key_k);
      if (gap > UINT32_MAX) return false;
      key += gap + 1;
    }
    uint64_t c = r.Gamma();
    // Every ordinal takes at least one bit: a count beyond what is left is malformed.
    if (!r.ok() || key > UINT32_MAX || c > r.bits_left()) return false;
    const int k = OrdinalRiceParameter(universe, c);
    ords.clear();
    for (uint64_t j = 0, next = 0; j < c; ++j) {
      uint64_t gap = r.Rice(k);
      if (gap > UINT32_MAX || next + gap > UINT32_MAX) return false;
      ords.push_back(static_cast<uint32_t>(next + gap));
      next += gap + 1;
    }
    if (!r.ok()) return false;
    if (!visit(static_cast<uint32_t>(key), ords)) return true;
  }
  return true;
}

std::vector<uint32_t> Block::Postings::Find(uint64_t h) const {
  const uint32_t key = PostingsKey(h);
  // The last group whose first key is not above `key`.
  size_t lo = 0, hi = groups.size() / 8;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (LoadFixedLE(groups.data() + mid * 8, 4) <= key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  std::vector<uint32_t> out;
  if (lo == 0) return out;
  Walk(lo - 1, [&](uint32_t k, const std::vector<uint32_t>& ords) {
    if (k == key) out = ords;
    return k < key;
  });
  return out;
}

template <typename Fn>
bool Block::Postings::ForEach(Fn fn) const {
  return Walk(0, [&](uint32_t key, const std::vector<uint32_t>& ords) {
    for (uint32_t o : ords) fn(key, o);
    return true;
  });
}

std::optional<Block::Sealed> Block::Merge(const std::vector<std::string_view>& blocks) {
  Block out;
  bool first = true;
  for (std::string_view data : blocks) {
    auto b = Decode(data);
    if (!b || !b->DecodeColumns()) return std::nullopt;
    if (first) {
      out.service_ = b->service_;
      first = false;
    } else if (b->service_ != out.service_) {
      return std::nullopt;
    }
    const auto entry_base = static_cast<uint32_t>(out.starts_.size());
    const auto origin_base = static_cast<uint32_t>(out.origin_count_);
    std::vector<uint32_t> op_map, trace_map;
    for (const auto& op : b->ops_) {
      auto [it, fresh] = out.op_index_.try_emplace(op, static_cast<uint32_t>(out.ops_.size()));
      if (fresh) out.ops_.push_back(op);
      op_map.push_back(it->second);
    }
    for (const auto& t : b->traces_) {
      auto [it, fresh] = out.trace_index_.try_emplace(t, static_cast<uint32_t>(out.traces_.size()));
      if (fresh) out.traces_.push_back(t);
      trace_map.push_back(it->second);
    }
    for (size_t i = 0; i < b->sealed_size_; ++i) {
      out.trace_ord_.push_back(trace_map[b->trace_ord_[i]]);
      out.op_ids_.push_back(op_map[b->op_ids_[i]]);
      out.origin_ord_.push_back(origin_base + b->origin_ord_[i]);
      out.starts_.push_back(b->starts_[i]);
      out.durations_.push_back(b->durations_[i]);
    }
    out.origin_count_ += b->origin_count_;
    out.min_start_ = std::min(out.min_start_, b->min_start_);
    out.max_start_ = std::max(out.max_start_, b->max_start_);
    out.max_duration_ = std::max(out.max_duration_, b->max_duration_);
    // A key k stands for every hash whose top 32 bits are k, and sealing keys by those bits:
    // (k << 32) is one such hash.
    bool ok = b->span_postings_.ForEach([&](uint32_t key, uint32_t ord) {
      if (ord < b->sealed_size_) {
        out.span_terms_.emplace_back(static_cast<uint64_t>(key) << 32, entry_base + ord);
      }
    });
    ok = ok && b->origin_postings_.ForEach([&](uint32_t key, uint32_t ord) {
      if (ord < b->origin_count_) {
        out.origin_terms_.emplace_back(static_cast<uint64_t>(key) << 32, origin_base + ord);
      }
    });
    if (!ok) return std::nullopt;
  }
  if (first) return std::nullopt;
  return out.Seal();
}

void Block::MarkTerm(uint64_t h, std::vector<bool>& bits) const {
  std::vector<bool> origins(origin_count_, false);
  bool any_origin = false;
  if (sealed_) {
    for (uint32_t i : span_postings_.Find(h)) {
      if (i < bits.size()) bits[i] = true;
    }
    for (uint32_t g : origin_postings_.Find(h)) {
      if (g < origins.size()) origins[g] = any_origin = true;
    }
  } else {
    for (const auto& [t, i] : span_terms_) {
      if (t == h) bits[i] = true;
    }
    for (const auto& [t, g] : origin_terms_) {
      if (t == h) origins[g] = any_origin = true;
    }
  }
  if (any_origin) {
    for (size_t i = 0; i < bits.size(); ++i) {
      if (origins[origin_ord_[i]]) bits[i] = true;
    }
  }
}

bool Block::Search(const TraceQuery& q, Hits& hits) const {
  size_t n = size();
  if (n == 0) return true;
  if (q.start_max_ns != 0 && min_start_ > q.start_max_ns) return true;
  if (q.start_min_ns != 0 && max_start_ < q.start_min_ns) return true;
  if (q.duration_min_ns != 0 && max_duration_ < q.duration_min_ns) return true;
  std::optional<uint32_t> op;
  if (!q.operation.empty()) {
    for (uint32_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i] == q.operation) op = i;
    }
    if (!op) return true;
  }
  if (sealed_) {
    // A tag no entry of the block has: nothing here matches, and the columns stay encoded.
    for (const auto& [k, v] : q.tags) {
      uint64_t h = TermHash(k, v);
      if (span_postings_.Find(h).empty() && origin_postings_.Find(h).empty()) return true;
    }
    if (!DecodeColumns()) return false;
  }
  // Entries having every tag: the intersection of each tag's marks.
  std::vector<bool> all;
  for (size_t t = 0; t < q.tags.size(); ++t) {
    std::vector<bool> bits(n, false);
    MarkTerm(TermHash(q.tags[t].first, q.tags[t].second), bits);
    if (t == 0) {
      all = std::move(bits);
    } else {
      for (size_t i = 0; i < n; ++i) all[i] = all[i] && bits[i];
    }
  }
  // Matching entries, then only this block's `limit` newest traces go to `hits`: a trace not
  // among them has `limit` newer ones here already, so it cannot make the overall result.
  std::vector<std::pair<int64_t, uint32_t>> matches;  // (start, trace ordinal)
  for (size_t i = 0; i < n; ++i) {
    if (!all.empty() && !all[i]) continue;
    int64_t s = starts_[i];
    if (q.start_min_ns != 0 && s < q.start_min_ns) continue;
    if (q.start_max_ns != 0 && s > q.start_max_ns) continue;
    int64_t d = durations_[i];
    if (q.duration_min_ns != 0 && d < q.duration_min_ns) continue;
    if (q.duration_max_ns != 0 && d > q.duration_max_ns) continue;
    if (op && op_ids_[i] != *op) continue;
    auto effective = hits.Effective(traces_[trace_ord_[i]], s);
    if (effective) matches.emplace_back(*effective, trace_ord_[i]);
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
        hits.Add(traces_[matches[i].second], matches[i].first);
      }
    }
    if (taken.size() >= limit || k == matches.size()) break;
  }
  return true;
}

}  // namespace skua::storage
