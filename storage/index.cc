#include "storage/index.h"

#include <algorithm>
#include <cstring>

#include "storage/span_terms.h"

namespace skua::storage {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;

constexpr uint8_t kBatchFormat = 1;
constexpr uint8_t kBlockFormat = 1;

class Out {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void Var(uint64_t v) {
    while (v >= 0x80) {
      s_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    s_.push_back(static_cast<char>(v));
  }
  void SVar(int64_t v) { Var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Bytes(std::string_view b) { s_.append(b); }
  void Str(std::string_view b) {
    Var(b.size());
    s_.append(b);
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  uint8_t U8() {
    if (s_.empty()) return Fail();
    uint8_t v = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return v;
  }
  uint64_t Var() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (s_.empty()) return Fail();
      auto b = static_cast<uint8_t>(s_[0]);
      s_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  int64_t SVar() {
    uint64_t u = Var();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  uint64_t Fixed64() {
    if (s_.size() < 8) return Fail();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s_[i])) << (8 * i);
    s_.remove_prefix(8);
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (s_.size() < n) {
      Fail();
      return {};
    }
    auto b = s_.substr(0, n);
    s_.remove_prefix(n);
    return b;
  }
  std::string_view Str() { return Bytes(Var()); }
  // A count that must fit in what is left (each item takes at least `min_bytes`).
  size_t Count(size_t min_bytes = 1) {
    uint64_t n = Var();
    if (n > s_.size() / std::max<size_t>(1, min_bytes) + 1) {
      Fail();
      return 0;
    }
    return n;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    s_ = {};
    return 0;
  }
  std::string_view s_;
  bool ok_ = true;
};

uint64_t SpanIdValue(std::string_view raw) {
  if (raw.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

std::string MakeTerm(std::string_view key, std::string_view value) {
  std::string t;
  t.reserve(key.size() + 1 + value.size());
  t.append(key);
  t.push_back('\0');
  t.append(value);
  return t;
}

// ---- IndexBatch ----

std::string IndexBatch::Encode() const {
  Out o;
  o.U8(kBatchFormat);
  o.Var(strings.size());
  for (const auto& s : strings) o.Str(s);
  o.Var(entries.size());
  for (const auto& e : entries) {
    o.Bytes(e.trace_id.AsBytes());
    o.Fixed64(e.span_id);
    o.Fixed64(e.parent_span_id);
    o.SVar(e.start_ns);
    o.SVar(e.duration_ns);
    o.Var(e.service);
    o.Var(e.operation);
    o.U8(e.kind);
    o.Var(e.terms_end - e.terms_begin);
    for (uint32_t i = e.terms_begin; i < e.terms_end; ++i) o.Var(term_ids[i]);
  }
  return o.Take();
}

std::optional<IndexBatch> IndexBatch::Decode(std::string_view data) {
  In in(data);
  if (in.U8() != kBatchFormat) return std::nullopt;
  IndexBatch b;
  size_t ns = in.Count();
  for (size_t i = 0; i < ns && in.ok(); ++i) b.strings.emplace_back(in.Str());
  size_t ne = in.Count(32);
  for (size_t i = 0; i < ne && in.ok(); ++i) {
    Entry e;
    auto tid = in.Bytes(16);
    if (!in.ok()) break;
    std::memcpy(e.trace_id.bytes.data(), tid.data(), 16);
    e.span_id = in.Fixed64();
    e.parent_span_id = in.Fixed64();
    e.start_ns = in.SVar();
    e.duration_ns = in.SVar();
    e.service = static_cast<uint32_t>(in.Var());
    e.operation = static_cast<uint32_t>(in.Var());
    e.kind = in.U8();
    size_t nt = in.Count();
    e.terms_begin = static_cast<uint32_t>(b.term_ids.size());
    for (size_t t = 0; t < nt && in.ok(); ++t) b.term_ids.push_back(static_cast<uint32_t>(in.Var()));
    e.terms_end = static_cast<uint32_t>(b.term_ids.size());
    if (e.service >= ns || e.operation >= ns) return std::nullopt;
    b.entries.push_back(e);
  }
  if (!in.ok()) return std::nullopt;
  for (uint32_t id : b.term_ids) {
    if (id >= ns) return std::nullopt;
  }
  return b;
}

uint32_t IndexBatchBuilder::Intern(std::string_view s) {
  auto [it, inserted] = ids_.try_emplace(std::string(s), batch_.strings.size());
  if (inserted) batch_.strings.emplace_back(s);
  return it->second;
}

void IndexBatchBuilder::Add(const SpanRef& ref) {
  const auto& span = *ref.span;
  auto cached = [&](const void* key, auto each) -> const std::vector<uint32_t>& {
    auto [it, inserted] = cached_terms_.try_emplace(key);
    if (inserted) {
      each([&](std::string_view k, std::string_view v) {
        it->second.push_back(Intern(MakeTerm(k, v)));
      });
    }
    return it->second;
  };
  const auto& resource_terms = cached(ref.resource, [&](const auto& fn) {
    ForEachResourceTerm(ref.resource->resource(), fn);
  });
  const auto& scope_terms =
      cached(ref.scope, [&](const auto& fn) { ForEachScopeTerm(ref.scope->scope(), fn); });
  auto [sit, new_service] = service_of_.try_emplace(ref.resource, 0);
  if (new_service) sit->second = Intern(ServiceNameOf(ref.resource->resource()));

  IndexBatch::Entry e;
  std::memcpy(e.trace_id.bytes.data(), span.trace_id().data(), 16);
  e.span_id = SpanIdValue(span.span_id());
  e.parent_span_id = SpanIdValue(span.parent_span_id());
  e.start_ns = static_cast<int64_t>(span.start_time_unix_nano());
  e.duration_ns = span.end_time_unix_nano() > span.start_time_unix_nano()
                      ? static_cast<int64_t>(span.end_time_unix_nano() - span.start_time_unix_nano())
                      : 0;
  e.service = sit->second;
  e.operation = Intern(span.name().empty() ? "empty-span-name" : span.name());
  e.kind = static_cast<uint8_t>(span.kind());
  e.terms_begin = static_cast<uint32_t>(batch_.term_ids.size());
  auto& ids = batch_.term_ids;
  ids.insert(ids.end(), resource_terms.begin(), resource_terms.end());
  ids.insert(ids.end(), scope_terms.begin(), scope_terms.end());
  ForEachSpanTerm(span, [&](std::string_view k, std::string_view v) {
    ids.push_back(Intern(MakeTerm(k, v)));
  });
  e.terms_end = static_cast<uint32_t>(ids.size());
  batch_.entries.push_back(e);
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
  const std::string& op = batch.strings[e.operation];
  auto [oit, new_op] = op_index_.try_emplace(op, ops_.size());
  if (new_op) ops_.push_back(op);
  size_t first = term_ids_.size();
  for (uint32_t i = e.terms_begin; i < e.terms_end; ++i) {
    const std::string& t = batch.strings[batch.term_ids[i]];
    auto [tit, new_term] = term_index_.try_emplace(t, terms_.size());
    if (new_term) terms_.push_back(t);
    term_ids_.push_back(tit->second);
  }
  std::sort(term_ids_.begin() + static_cast<long>(first), term_ids_.end());
  term_ids_.erase(std::unique(term_ids_.begin() + static_cast<long>(first), term_ids_.end()),
                  term_ids_.end());
  term_offsets_.push_back(static_cast<uint32_t>(term_ids_.size()));
  trace_ids_.push_back(e.trace_id);
  starts_.push_back(e.start_ns);
  durations_.push_back(e.duration_ns);
  op_ids_.push_back(oit->second);
  min_start_ = std::min(min_start_, e.start_ns);
  max_start_ = std::max(max_start_, e.start_ns);
  max_duration_ = std::max(max_duration_, e.duration_ns);
}

std::string Block::Encode() const {
  // Terms are written sorted so a decoded block can binary-search them.
  std::vector<uint32_t> order(terms_.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return terms_[a] < terms_[b]; });
  std::vector<uint32_t> remap(terms_.size());
  for (uint32_t i = 0; i < order.size(); ++i) remap[order[i]] = i;

  Out o;
  o.U8(kBlockFormat);
  o.Str(service_);
  size_t n = size();
  o.Var(n);
  o.SVar(min_start_);
  o.SVar(max_start_);
  o.SVar(max_duration_);
  o.Var(ops_.size());
  for (const auto& op : ops_) o.Str(op);
  o.Var(terms_.size());
  for (uint32_t i : order) o.Str(terms_[i]);
  for (const auto& id : trace_ids_) o.Bytes(id.AsBytes());
  for (size_t i = 0; i < n; ++i) o.SVar(starts_[i] - min_start_);
  for (size_t i = 0; i < n; ++i) o.SVar(durations_[i]);
  for (size_t i = 0; i < n; ++i) o.Var(op_ids_[i]);
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < n; ++i) {
    ids.assign(term_ids_.begin() + term_offsets_[i], term_ids_.begin() + term_offsets_[i + 1]);
    for (auto& id : ids) id = remap[id];
    std::sort(ids.begin(), ids.end());
    o.Var(ids.size());
    uint32_t prev = 0;
    for (uint32_t id : ids) {  // delta-coded, ascending
      o.Var(id - prev);
      prev = id;
    }
  }
  return o.Take();
}

std::optional<Block> Block::Decode(std::string_view data) {
  In in(data);
  if (in.U8() != kBlockFormat) return std::nullopt;
  Block b(std::string(in.Str()));
  size_t n = in.Count(16);
  b.min_start_ = in.SVar();
  b.max_start_ = in.SVar();
  b.max_duration_ = in.SVar();
  size_t nops = in.Count();
  for (size_t i = 0; i < nops && in.ok(); ++i) b.ops_.emplace_back(in.Str());
  size_t nterms = in.Count();
  for (size_t i = 0; i < nterms && in.ok(); ++i) b.terms_.emplace_back(in.Str());
  b.trace_ids_.resize(n);
  for (size_t i = 0; i < n && in.ok(); ++i) {
    auto raw = in.Bytes(16);
    if (in.ok()) std::memcpy(b.trace_ids_[i].bytes.data(), raw.data(), 16);
  }
  b.starts_.resize(n);
  for (size_t i = 0; i < n; ++i) b.starts_[i] = b.min_start_ + in.SVar();
  b.durations_.resize(n);
  for (size_t i = 0; i < n; ++i) b.durations_[i] = in.SVar();
  b.op_ids_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    b.op_ids_[i] = static_cast<uint32_t>(in.Var());
    if (b.op_ids_[i] >= nops) return std::nullopt;
  }
  b.term_offsets_.reserve(n + 1);
  for (size_t i = 0; i < n && in.ok(); ++i) {
    size_t k = in.Count();
    uint32_t id = 0;
    for (size_t j = 0; j < k; ++j) {
      id += static_cast<uint32_t>(in.Var());
      if (id >= nterms) return std::nullopt;
      b.term_ids_.push_back(id);
    }
    b.term_offsets_.push_back(static_cast<uint32_t>(b.term_ids_.size()));
  }
  if (!in.ok()) return std::nullopt;
  return b;
}

std::optional<uint32_t> Block::FindTerm(const std::string& term) const {
  if (!term_index_.empty() || terms_.empty()) {
    auto it = term_index_.find(term);
    return it == term_index_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }
  auto it = std::lower_bound(terms_.begin(), terms_.end(), term);
  if (it == terms_.end() || *it != term) return std::nullopt;
  return static_cast<uint32_t>(it - terms_.begin());
}

std::optional<uint32_t> Block::FindOperation(const std::string& op) const {
  if (!op_index_.empty()) {
    auto it = op_index_.find(op);
    return it == op_index_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i] == op) return i;
  }
  return std::nullopt;
}

void Block::Search(const TraceQuery& q, Hits& hits) const {
  if (size() == 0) return;
  if (q.start_max_ns != 0 && min_start_ > q.start_max_ns) return;
  if (q.start_min_ns != 0 && max_start_ < q.start_min_ns) return;
  if (q.duration_min_ns != 0 && max_duration_ < q.duration_min_ns) return;
  std::optional<uint32_t> op;
  if (!q.operation.empty()) {
    op = FindOperation(q.operation);
    if (!op) return;
  }
  std::vector<uint32_t> want;
  for (const auto& [k, v] : q.tags) {
    auto id = FindTerm(MakeTerm(k, v));
    if (!id) return;  // no entry of this block has the term
    want.push_back(*id);
  }
  for (size_t i = 0; i < size(); ++i) {
    int64_t s = starts_[i];
    if (q.start_min_ns != 0 && s < q.start_min_ns) continue;
    if (q.start_max_ns != 0 && s > q.start_max_ns) continue;
    int64_t d = durations_[i];
    if (q.duration_min_ns != 0 && d < q.duration_min_ns) continue;
    if (q.duration_max_ns != 0 && d > q.duration_max_ns) continue;
    if (op && op_ids_[i] != *op) continue;
    auto first = term_ids_.begin() + term_offsets_[i];
    auto last = term_ids_.begin() + term_offsets_[i + 1];
    bool all = true;
    for (uint32_t t : want) {
      if (!std::binary_search(first, last, t)) {
        all = false;
        break;
      }
    }
    if (all) hits.Add(trace_ids_[i], s);
  }
}

}  // namespace skua::storage
