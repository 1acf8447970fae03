// RocksDB key layout of one shard (docs/storage.md). Every key starts with a one-byte tag.
//
//   'T' trace_id[16] seq[8 BE]   -> TraceChunk (spans of one trace from one export request)
//   'R' resource_id[8 BE]        -> ResourceSpans holding only resource + schema_url
//   'S' scope_id[8 BE]           -> ScopeSpans holding only scope + schema_url
//   'M' "seq"                    -> last chunk sequence number used, 8 bytes BE
//
// Trace chunk keys share a 17-byte prefix per trace; the prefix extractor and bloom filters are
// configured on that length, so a trace lookup is one prefix seek.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"

namespace skua::storage {

// Bumped on any incompatible change of keys or values; a data directory written with another
// version is refused at open.
inline constexpr int kFormatVersion = 1;

inline constexpr char kTraceChunkTag = 'T';
inline constexpr char kResourceTag = 'R';
inline constexpr char kScopeTag = 'S';
inline constexpr char kMetaTag = 'M';
inline constexpr size_t kTracePrefixLength = 17;
inline constexpr size_t kTraceChunkKeyLength = kTracePrefixLength + 8;

void AppendBigEndian64(std::string& out, uint64_t v);
uint64_t DecodeBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8

std::string TracePrefix(const common::TraceId& id);
std::string TraceChunkKey(const common::TraceId& id, uint64_t seq);
std::string ResourceKey(uint64_t id);
std::string ScopeKey(uint64_t id);
std::string SeqKey();

struct DecodedChunkKey {
  common::TraceId trace_id;
  uint64_t seq = 0;
};
// nullopt if `key` is not a well-formed trace chunk key.
std::optional<DecodedChunkKey> DecodeTraceChunkKey(std::string_view key);

}  // namespace skua::storage
