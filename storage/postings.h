// Postings of a sealed index block: for each term key, the block entries (or origins) having a
// term with that key. Private to storage/.
//
// A term is keyed by the top 32 bits of its hash only (PostingsKey): terms sharing a key share
// one list, so a match is a candidate, and searches verify candidates against the spans.
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
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "storage/coding.h"

namespace skua::storage {

// Writes the postings of (term hash, ordinal) pairs whose ordinals are below `universe`;
// returns the distinct keys, ascending.
std::vector<uint32_t> WritePostings(ByteWriter& out,
                                    const std::vector<std::pair<uint64_t, uint32_t>>& pairs,
                                    uint64_t universe);

// Postings read from a block row; views into it (which must outlive them).
class Postings {
 public:
  // Reads what WritePostings wrote; false if malformed. Ordinals below `universe`.
  bool Read(ByteReader& in, uint64_t universe);

  // The ordinals of every term whose hash has the top 32 bits of `h`: a superset of those
  // having the term `h`. Empty if none (or malformed).
  std::vector<uint32_t> Find(uint64_t h) const;

  // Calls fn(key, ordinal) for every posting; false if malformed.
  bool ForEach(absl::FunctionRef<void(uint32_t key, uint32_t ordinal)> fn) const;

 private:
  // Decodes the keys from group `group` on, calling visit(key, ordinals) until it returns
  // false; false if malformed.
  bool Walk(
      size_t group,
      absl::FunctionRef<bool(uint32_t key, const std::vector<uint32_t>& ordinals)> visit) const;

  size_t count_ = 0;         // distinct keys
  int key_k_ = 0;            // Rice parameter of the key gaps
  uint64_t universe_ = 0;    // ordinals are below this: entries, or origins
  std::string_view groups_;  // per 64 keys: u32 LE first key, u32 LE bit position in `bits_`
  std::string_view bits_;
};

}  // namespace skua::storage
