// The term filter of a sealed index block (its `F` row): a Bloom filter over the block's
// postings keys, read before the block itself so a search for a tag skips the blocks that do
// not hold it.
//
// Format: u32 LE bit count m, then m bits rounded up to whole bytes; 6 probes by double hashing,
// mapped onto [0, m) by multiply-shift, so m need not be a power of two. About 10 bits per key
// (~1 % false positives). Built from the keys alone, a filter can be rebuilt from its block.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skua::storage {

// The key of a term (64-bit TermHash) in sealed postings and filters: its top 32 bits. Terms
// sharing a key share one postings list, so matches through it are candidates.
inline uint32_t PostingsKey(uint64_t term_hash) { return static_cast<uint32_t>(term_hash >> 32); }

// The filter holding `keys`.
std::string BuildTermFilter(const std::vector<uint32_t>& keys);

// True unless the filter proves `term` (a TermHash) absent; true for a malformed filter.
bool FilterMayContain(std::string_view filter, uint64_t term);

}  // namespace skua::storage
