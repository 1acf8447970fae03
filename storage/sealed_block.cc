// The sealed block format: encoding, decoding, searching and merging `B` rows.

#include "storage/sealed_block.h"

#include <algorithm>
#include <cstring>

#include "storage/coding.h"
#include "storage/span_terms.h"
#include "storage/term_filter.h"
#include "storage/value_dictionary.h"

namespace skua::storage {
namespace {

// Format 6 added the value dictionary; blocks of format 5 are still read (without one).
constexpr uint8_t kBlockFormat = 6;
constexpr uint8_t kBlockFormatWithoutDictionary = 5;

int64_t WrappingSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

BlockRows EncodeBlock(const BlockColumns& c,
                      const std::vector<std::pair<uint64_t, uint32_t>>& span_terms,
                      const std::vector<std::pair<uint64_t, uint32_t>>& origin_terms,
                      std::string_view dictionary) {
  ByteWriter o;
  o.U8(kBlockFormat);
  o.Str(c.service);
  size_t n = c.starts.size();
  o.Var(n);
  o.SVar(c.min_start);
  o.SVar(c.max_start);
  o.SVar(c.max_duration);
  o.Var(c.ops.size());
  for (const auto& op : c.ops) o.Str(op);
  o.Var(c.origin_count);
  // Postings before the columns, so a search whose tags a block lacks stops here.
  std::vector<uint32_t> keys = WritePostings(o, span_terms, n);
  std::vector<uint32_t> origin_keys = WritePostings(o, origin_terms, c.origin_count);
  keys.insert(keys.end(), origin_keys.begin(), origin_keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string traces;
  traces.reserve(c.traces.size() * 16);
  for (const auto& t : c.traces) traces.append(t.AsBytes());
  o.Str(traces);
  ByteWriter cols;
  // Trace ordinals as differences from the previous entry's: a trace's spans mostly arrive
  // together, so most differences are 0 or 1.
  for (size_t i = 0; i < n; ++i) {
    cols.SVar(static_cast<int64_t>(c.trace_ord[i]) -
              (i == 0 ? 0 : static_cast<int64_t>(c.trace_ord[i - 1])));
  }
  // Starts as differences from the previous entry's (the first from min_start): entries come
  // in arrival order, so neighbours are close in time.
  // Two's-complement differences: any pair of 64-bit starts round-trips.
  for (size_t i = 0; i < n; ++i) {
    cols.SVar(WrappingSub(c.starts[i], i == 0 ? c.min_start : c.starts[i - 1]));
  }
  for (size_t i = 0; i < n; ++i) cols.SVar(c.durations[i]);
  for (size_t i = 0; i < n; ++i) cols.Var(c.op_ids[i]);
  for (size_t i = 0; i < n; ++i) cols.Var(c.origin_ord[i]);
  o.Str(cols.Take());
  o.Str(dictionary);
  BlockRows out;
  out.block = o.Take();
  out.filter = BuildTermFilter(keys);
  return out;
}

std::optional<SealedBlock> SealedBlock::Decode(std::string_view data) {
  ByteReader in(data);
  uint8_t format = in.U8();
  if (format != kBlockFormat && format != kBlockFormatWithoutDictionary) return std::nullopt;
  SealedBlock b;
  BlockColumns& c = b.columns_;
  c.service = std::string(in.Str());
  b.size_ = in.Count(0);
  c.min_start = in.SVar();
  c.max_start = in.SVar();
  c.max_duration = in.SVar();
  size_t nops = in.Count(1);
  for (size_t i = 0; i < nops && in.ok(); ++i) c.ops.emplace_back(in.Str());
  c.origin_count = in.Var();
  if (!b.span_postings_.Read(in, b.size_) || !b.origin_postings_.Read(in, c.origin_count)) {
    return std::nullopt;
  }
  b.encoded_traces_ = in.Str();
  b.encoded_columns_ = in.Str();
  if (format == kBlockFormat) b.dictionary_ = in.Str();
  if (!in.ok() || b.encoded_traces_.size() % 16 != 0) return std::nullopt;
  return b;
}

bool SealedBlock::DecodeColumns() const {
  if (columns_decoded_) return true;
  BlockColumns& c = columns_;
  size_t n = size_;
  size_t ntraces = encoded_traces_.size() / 16;
  c.traces.resize(ntraces);
  for (size_t i = 0; i < ntraces; ++i) {
    std::memcpy(c.traces[i].bytes.data(), encoded_traces_.data() + 16 * i, 16);
  }
  ByteReader in(encoded_columns_);
  c.trace_ord.resize(n);
  c.starts.resize(n);
  c.durations.resize(n);
  c.op_ids.resize(n);
  c.origin_ord.resize(n);
  for (size_t i = 0, prev = 0; i < n; ++i) {
    prev = static_cast<uint32_t>(prev + static_cast<uint64_t>(in.SVar()));
    c.trace_ord[i] = static_cast<uint32_t>(prev);
  }
  for (size_t i = 0; i < n; ++i) {
    c.starts[i] = WrappingAdd(i == 0 ? c.min_start : c.starts[i - 1], in.SVar());
  }
  for (size_t i = 0; i < n; ++i) c.durations[i] = in.SVar();
  for (size_t i = 0; i < n; ++i) c.op_ids[i] = static_cast<uint32_t>(in.Var());
  for (size_t i = 0; i < n; ++i) c.origin_ord[i] = static_cast<uint32_t>(in.Var());
  if (!in.ok()) return false;
  for (size_t i = 0; i < n; ++i) {
    if (c.trace_ord[i] >= ntraces || c.op_ids[i] >= c.ops.size() ||
        c.origin_ord[i] >= c.origin_count) {
      return false;
    }
  }
  columns_decoded_ = true;
  return true;
}

bool SealedBlock::Search(const TraceQuery& q, Hits& hits) const {
  std::optional<uint32_t> op;
  if (size_ == 0 || !columns_.MayMatch(q, op)) return true;
  // A tag no entry of the block has: nothing here matches, and the columns stay encoded.
  auto absent_term = [&](uint64_t h) {
    return span_postings_.Find(h).empty() && origin_postings_.Find(h).empty();
  };
  auto absent = [&](const std::pair<std::string, std::string>& tag) {
    return absent_term(TermHash(tag.first, tag.second));
  };
  for (const auto& tag : q.tags) {
    if (absent(tag)) return true;
  }
  for (const auto& group : q.any_tags) {
    if (std::all_of(group.begin(), group.end(), absent)) return true;
  }
  // A pattern marks the entries with a value it accepts, from the values the block lists; the
  // terms no entry has are dropped here, so marking looks up only the others.
  std::vector<std::vector<uint64_t>> pattern_terms;
  for (const auto& p : q.patterns) {
    DictionaryAnswer a = MatchEncoded(dictionary_, TermKeyState(p.key), [&](std::string_view v) {
      return filter::PatternMatches(*p.pattern, v);
    });
    if (!a.known) continue;
    std::erase_if(a.terms, absent_term);
    if (a.terms.empty()) return true;
    pattern_terms.push_back(std::move(a.terms));
  }
  if (!DecodeColumns()) return false;
  columns_.Collect(
      q, size_, op, pattern_terms,
      [&](std::span<const uint64_t> group, std::vector<bool>& entries, std::vector<bool>& origins) {
        for (uint64_t h : group) {
          for (uint32_t i : span_postings_.Find(h)) {
            if (i < entries.size()) entries[i] = true;
          }
          for (uint32_t g : origin_postings_.Find(h)) {
            if (g < origins.size()) origins[g] = true;
          }
        }
      },
      hits);
  return true;
}

std::optional<BlockRows> SealedBlock::Merge(const std::vector<std::string_view>& blocks) {
  BlockColumns out;
  std::vector<std::pair<uint64_t, uint32_t>> span_terms, origin_terms;
  absl::flat_hash_map<std::string, uint32_t> op_index;
  absl::flat_hash_map<common::TraceId, uint32_t, common::TraceIdHash> trace_index;
  // The merged block lists a key's values completely only if every part does; if a part has no
  // dictionary (or an unreadable one), neither has the merged block.
  ValueDictionaryBuilder dictionary;
  bool dictionaries = true;
  bool first = true;
  for (std::string_view data : blocks) {
    auto b = Decode(data);
    if (!b || !b->DecodeColumns()) return std::nullopt;
    const BlockColumns& in = b->columns_;
    if (first) {
      out.service = in.service;
      first = false;
    } else if (in.service != out.service) {
      return std::nullopt;
    }
    const auto entry_base = static_cast<uint32_t>(out.starts.size());
    const auto origin_base = static_cast<uint32_t>(out.origin_count);
    std::vector<uint32_t> op_map, trace_map;
    for (const auto& op : in.ops) {
      auto [it, fresh] = op_index.try_emplace(op, static_cast<uint32_t>(out.ops.size()));
      if (fresh) out.ops.push_back(op);
      op_map.push_back(it->second);
    }
    for (const auto& t : in.traces) {
      auto [it, fresh] = trace_index.try_emplace(t, static_cast<uint32_t>(out.traces.size()));
      if (fresh) out.traces.push_back(t);
      trace_map.push_back(it->second);
    }
    for (size_t i = 0; i < b->size_; ++i) {
      out.trace_ord.push_back(trace_map[in.trace_ord[i]]);
      out.op_ids.push_back(op_map[in.op_ids[i]]);
      out.origin_ord.push_back(origin_base + in.origin_ord[i]);
      out.starts.push_back(in.starts[i]);
      out.durations.push_back(in.durations[i]);
    }
    out.origin_count += in.origin_count;
    out.min_start = std::min(out.min_start, in.min_start);
    out.max_start = std::max(out.max_start, in.max_start);
    out.max_duration = std::max(out.max_duration, in.max_duration);
    // A key k stands for every hash whose top 32 bits are k, and sealing keys by those bits:
    // (k << 32) is one such hash.
    bool ok = b->span_postings_.ForEach([&](uint32_t key, uint32_t ord) {
      if (ord < b->size_)
        span_terms.emplace_back(static_cast<uint64_t>(key) << 32, entry_base + ord);
    });
    ok = ok && b->origin_postings_.ForEach([&](uint32_t key, uint32_t ord) {
      if (ord < in.origin_count) {
        origin_terms.emplace_back(static_cast<uint64_t>(key) << 32, origin_base + ord);
      }
    });
    if (!ok) return std::nullopt;
    dictionaries = dictionaries && !b->dictionary_.empty() && dictionary.AddEncoded(b->dictionary_);
  }
  if (first) return std::nullopt;
  return EncodeBlock(out, span_terms, origin_terms,
                     dictionaries ? dictionary.Encode() : std::string());
}

}  // namespace skua::storage
