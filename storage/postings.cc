// Postings of sealed index blocks: writing, finding one key, walking them all.

#include "storage/postings.h"

#include <algorithm>
#include <bit>

#include "storage/term_filter.h"

namespace skua::storage {
namespace {

constexpr size_t kGroup = 64;

// The Rice parameter of a term's ordinal gaps: the mean gap of `count` ordinals spread over
// `universe` entries, rounded down to a power of two.
int OrdinalRiceParameter(uint64_t universe, uint64_t count) {
  uint64_t mean = count == 0 ? 0 : universe / count;
  return mean == 0 ? 0 : std::min(31, static_cast<int>(std::bit_width(mean)) - 1);
}

}  // namespace

std::vector<uint32_t> WritePostings(ByteWriter& out,
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
    if (t % kGroup == 0) {
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
  out.Var(keys.size());
  out.U8(static_cast<uint8_t>(key_k));
  out.Bytes(groups.Take());
  out.Str(bits.Take());
  return keys;
}

bool Postings::Read(ByteReader& in, uint64_t universe) {
  count_ = in.Var();
  key_k_ = in.U8();
  groups_ = in.Bytes((count_ / kGroup + (count_ % kGroup != 0)) * 8);
  bits_ = in.Str();
  universe_ = universe;
  return in.ok() && key_k_ <= 31;
}

bool Postings::Walk(
    size_t group,
    absl::FunctionRef<bool(uint32_t key, const std::vector<uint32_t>& ordinals)> visit) const {
  if (group >= groups_.size() / 8) return true;
  BitReader r(bits_, LoadFixedLE(groups_.data() + group * 8 + 4, 4));
  std::vector<uint32_t> ords;
  uint64_t key = 0;
  for (size_t t = group * kGroup; t < count_; ++t) {
    if (t % kGroup == 0) {
      key = LoadFixedLE(groups_.data() + t / kGroup * 8, 4);
    } else {
      uint64_t gap = r.Rice(key_k_);
      if (gap > UINT32_MAX) return false;
      key += gap + 1;
    }
    uint64_t c = r.Gamma();
    // Every ordinal takes at least one bit: a count beyond what is left is malformed.
    if (!r.ok() || key > UINT32_MAX || c > r.bits_left()) return false;
    const int k = OrdinalRiceParameter(universe_, c);
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

std::vector<uint32_t> Postings::Find(uint64_t h) const {
  const uint32_t key = PostingsKey(h);
  // The last group whose first key is not above `key`.
  size_t lo = 0, hi = groups_.size() / 8;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (LoadFixedLE(groups_.data() + mid * 8, 4) <= key) {
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

bool Postings::ForEach(absl::FunctionRef<void(uint32_t key, uint32_t ordinal)> fn) const {
  return Walk(0, [&](uint32_t key, const std::vector<uint32_t>& ords) {
    for (uint32_t o : ords) fn(key, o);
    return true;
  });
}

}  // namespace skua::storage
