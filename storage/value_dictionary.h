// The attribute values of one search index block, by key: what a search with a pattern (a
// filter's `regex`) is narrowed by, instead of reading every span of the block. The postings
// hold only hashes of whole `key=value` terms, so a pattern implies no term by itself; matched
// against a block's values it implies the terms of the values it accepts, whose postings then
// mark the candidates (docs/storage.md, "Value dictionaries"). Private to storage/.
//
// A dictionary may know less than its block holds, never differently: a key with a value longer
// than kDictionaryMaxValueBytes or with more than kDictionaryMaxValuesPerKey values is listed as
// incomplete (its values then narrow nothing), and past its byte bound a dictionary stops
// listing new keys and says so. Every answer is therefore a superset of the block's matches;
// the filter's evaluator decides on the stored spans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"

namespace skua::storage {

inline constexpr size_t kDictionaryMaxValueBytes = 128;
inline constexpr size_t kDictionaryMaxValuesPerKey = 4096;
// Values, their hashes and keys held by one dictionary, in memory or encoded.
inline constexpr size_t kDictionaryMaxBytes = 8 << 20;

// What a dictionary says of one key's values under a pattern.
struct DictionaryAnswer {
  // False: the dictionary cannot tell (the key is incomplete, or may be unlisted); the block's
  // entries are not narrowed by the pattern.
  bool known = false;
  // When known: the TermHashes of the key's values the pattern accepts. Empty: no entry of the
  // block has a value of the key the pattern accepts.
  std::vector<uint64_t> terms;
};

// A dictionary being built: an open block's (values appended as spans arrive) or a merge's.
// Not thread-safe.
class ValueDictionaryBuilder {
 public:
  // Adds a value of the key whose TermKeyState is `key_state`; `term` is the TermHash of the
  // pair. `may_grow` false: the caller's own bound is reached, so nothing new is held (a new
  // value makes its key incomplete, a new key is left unlisted).
  void Add(uint64_t key_state, uint64_t term, std::string_view value, bool may_grow = true);
  // The key has a value the dictionary does not list.
  void MarkIncomplete(uint64_t key_state);
  // Some key of the block may not be listed at all.
  void MarkUnlisted() { every_key_listed_ = false; }

  // Approximate memory held.
  size_t bytes() const { return bytes_; }
  bool empty() const { return keys_.empty() && every_key_listed_; }

  DictionaryAnswer Match(uint64_t key_state,
                         absl::FunctionRef<bool(std::string_view)> accepts) const;

  // The encoded form (docs/storage.md): keys in ascending order of key state, each key's values
  // sorted and front-coded.
  std::string Encode() const;

  // Adds everything an encoded dictionary says. False (and the builder then lists nothing as
  // complete) if `encoded` is malformed.
  bool AddEncoded(std::string_view encoded);

 private:
  struct Key {
    bool complete = true;
    absl::flat_hash_set<uint64_t> terms;
    std::string values;  // each: varint length, bytes
    size_t bytes = 0;    // what its values add to bytes_
  };
  Key* Find(uint64_t key_state, bool may_grow);
  void Drop(Key& k);

  absl::flat_hash_map<uint64_t, Key> keys_;
  bool every_key_listed_ = true;
  size_t bytes_ = 0;
};

// What the encoded dictionary `encoded` says of key `key_state` under `accepts`: unknown if it is
// malformed or empty (a block written before dictionaries existed has none).
DictionaryAnswer MatchEncoded(std::string_view encoded, uint64_t key_state,
                              absl::FunctionRef<bool(std::string_view)> accepts);

}  // namespace skua::storage
