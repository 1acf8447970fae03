// The Bloom filter over a sealed block's postings keys (`F` row values).

#include "storage/term_filter.h"

#include <algorithm>

#include "storage/coding.h"

namespace skua::storage {
namespace {

constexpr int kFilterProbes = 6;
constexpr size_t kFilterBitsPerTerm = 10;

template <typename Fn>
void ForEachProbe(uint32_t key, uint64_t m, Fn fn) {
  uint64_t x = static_cast<uint64_t>(key) * 0x9e3779b97f4a7c15ULL;
  auto h1 = static_cast<uint32_t>(x >> 32), h2 = static_cast<uint32_t>(x) | 1;
  for (int i = 0; i < kFilterProbes; ++i) {
    uint32_t h = h1 + static_cast<uint32_t>(i) * h2;
    fn((static_cast<uint64_t>(h) * m) >> 32);
  }
}

}  // namespace

std::string BuildTermFilter(const std::vector<uint32_t>& keys) {
  uint64_t m = std::max<uint64_t>(64, keys.size() * kFilterBitsPerTerm);
  m = std::min<uint64_t>(m, uint64_t{1} << 32);
  std::string filter(4 + (m + 7) / 8, '\0');
  for (int i = 0; i < 4; ++i) filter[i] = static_cast<char>(m >> (8 * i));
  char* bits = filter.data() + 4;
  for (uint32_t k : keys) {
    ForEachProbe(k, m, [bits](uint64_t bit) {
      bits[bit / 8] = static_cast<char>(static_cast<uint8_t>(bits[bit / 8]) | (1u << (bit % 8)));
    });
  }
  return filter;
}

bool FilterMayContain(std::string_view filter, uint64_t term) {
  if (filter.size() < 4) return true;
  uint64_t m = LoadFixedLE(filter.data(), 4);
  if (m == 0 || filter.size() < 4 + (m + 7) / 8) return true;
  const char* bits = filter.data() + 4;
  bool may = true;
  ForEachProbe(PostingsKey(term), m, [&](uint64_t bit) {
    may = may && (static_cast<uint8_t>(bits[bit / 8]) & (1u << (bit % 8)));
  });
  return may;
}

}  // namespace skua::storage
