// RocksDB key layout of one shard (docs/storage.md). Every key starts with a one-byte tag.
//
//   'T' trace_id[16] seq[8 BE]   -> TraceChunk (spans of one trace from one export request)
//   'R' resource_id[8 BE]        -> ResourceSpans holding only resource + schema_url
//   'S' scope_id[8 BE]           -> ScopeSpans holding only scope + schema_url
//   'M' "seq"                    -> last chunk sequence number used, 8 bytes BE
//   'M' "idx"                    -> last sequence number whose index entries are sealed
//   'M' "finished"               -> (empty, in a partition) closed, blocks merged, recompressed
//   'L' seq[8 BE]                -> IndexBatch: index entries of one request (until sealed)
//   'B' svc_hash[8] ~max_start[8] seq[8] -> sealed index block of one service
//   'F' svc_hash[8] ~max_start[8] seq[8] -> term filter of that block
//   'C' service \0 operation \0 kind[1]    -> (empty) catalog entry
//   'D' bucket[8 BE] parent \0 child        -> call count, 8 bytes BE (dependencies)
//   'D' bucket[8 BE] 0xFF tenant \0 parent \0 child -> the same, of a tenant
//   'A' tenant \0 service                 -> attribute catalog of a service (shard 0 only)
//
// Trace chunk keys share a 17-byte prefix per trace; the prefix extractor and bloom filters are
// configured on that length, so a trace lookup is one prefix seek.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "storage/coding.h"

namespace skua::storage {

// Bumped on any incompatible change of keys or values; a data directory written with another
// version is refused at open.
inline constexpr int kFormatVersion = 5;

inline constexpr char kTraceChunkTag = 'T';
inline constexpr char kResourceTag = 'R';
inline constexpr char kScopeTag = 'S';
inline constexpr char kMetaTag = 'M';
inline constexpr char kIndexLogTag = 'L';
inline constexpr char kBlockTag = 'B';
inline constexpr char kFilterTag = 'F';
inline constexpr char kCatalogTag = 'C';
inline constexpr char kDependencyTag = 'D';
inline constexpr char kAttributeTag = 'A';
// Every tag above, for tools that walk the key space by kind.
inline constexpr char kRowTags[] = "ABCDFLMRST";
// "trace chunks (T)" and so on; "tag X" for an unknown tag.
std::string RowKindName(char tag);
inline constexpr size_t kTracePrefixLength = 17;
inline constexpr size_t kTraceChunkKeyLength = kTracePrefixLength + 8;

std::string TracePrefix(const common::TraceId& id);
std::string TraceChunkKey(const common::TraceId& id, uint64_t seq);
std::string ResourceKey(uint64_t id);
std::string ScopeKey(uint64_t id);
std::string SeqKey();
std::string SealedSeqKey();
// In a time partition: present once it is closed and finished (index blocks merged, data
// rewritten with dictionary compression).
std::string FinishedMarkerKey();
std::string IndexLogKey(uint64_t seq);
// Newest blocks first: the key holds the bitwise complement of the block's newest start.
std::string BlockKey(uint64_t service_hash, int64_t max_start_ns, uint64_t seq);
std::string BlockPrefix(uint64_t service_hash);
// The filter row of a block: the block key with the 'F' tag.
std::string FilterKeyOf(std::string_view block_key);
std::string BlockKeyOf(std::string_view filter_key);
std::string FilterPrefix(uint64_t service_hash);
// max_start of a block key; REQUIRES: key from BlockKey.
int64_t BlockKeyMaxStart(std::string_view key);
std::string CatalogKey(std::string_view service, std::string_view operation, uint8_t kind);
// 'A' followed by AttributeCatalog's row key (tenant \0 service).
std::string AttributeKey(std::string_view catalog_key);
// Without a tenant: 'D' bucket parent \0 child. With one: 'D' bucket 0xFF tenant \0 parent \0
// child — no service name (valid UTF-8) starts with byte 0xFF, and no tenant ID holds a NUL.
inline constexpr char kDependencyTenantMark = '\xff';
std::string DependencyKey(std::string_view tenant, int64_t bucket, std::string_view parent,
                          std::string_view child);
struct DecodedDependencyKey {
  std::string tenant;
  int64_t bucket = 0;
  std::string parent, child;
};
// nullopt if `key` is not a well-formed dependency key.
std::optional<DecodedDependencyKey> DecodeDependencyKey(std::string_view key);

struct DecodedChunkKey {
  common::TraceId trace_id;
  uint64_t seq = 0;
};
// nullopt if `key` is not a well-formed trace chunk key.
std::optional<DecodedChunkKey> DecodeTraceChunkKey(std::string_view key);

}  // namespace skua::storage
