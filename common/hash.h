// Stable hashes: the values are persisted (resource and scope row keys) or decide data placement
// (shard routing), so they must never change between builds or runs.
#pragma once

#include <cstdint>
#include <string_view>

namespace skua::common {

// 64-bit FNV-1a over the bytes, finished with a splitmix64 round for better low bits.
inline uint64_t StableHash64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace skua::common
