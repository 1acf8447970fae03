// The key layout of a shard's rows (docs/storage.md, "Keys").

#include "storage/keys.h"

#include <algorithm>

namespace skua::storage {

std::string TracePrefix(const common::TraceId& id) {
  std::string key;
  key.reserve(kTraceChunkKeyLength);
  key.push_back(kTraceChunkTag);
  key.append(id.AsBytes());
  return key;
}

std::string TraceChunkKey(const common::TraceId& id, uint64_t seq) {
  std::string key = TracePrefix(id);
  AppendBigEndian64(key, seq);
  return key;
}

std::string ResourceKey(uint64_t id) {
  std::string key(1, kResourceTag);
  AppendBigEndian64(key, id);
  return key;
}

std::string ScopeKey(uint64_t id) {
  std::string key(1, kScopeTag);
  AppendBigEndian64(key, id);
  return key;
}

std::string SeqKey() { return std::string(1, kMetaTag) + "seq"; }
std::string SealedSeqKey() { return std::string(1, kMetaTag) + "idx"; }

std::string FinishedMarkerKey() { return std::string(1, kMetaTag) + "finished"; }

std::string IndexLogKey(uint64_t seq) {
  std::string key(1, kIndexLogTag);
  AppendBigEndian64(key, seq);
  return key;
}

std::string BlockPrefix(uint64_t service_hash) {
  std::string key(1, kBlockTag);
  AppendBigEndian64(key, service_hash);
  return key;
}

std::string BlockKey(uint64_t service_hash, int64_t max_start_ns, uint64_t seq) {
  std::string key = BlockPrefix(service_hash);
  AppendBigEndian64(key, ~static_cast<uint64_t>(max_start_ns));
  AppendBigEndian64(key, seq);
  return key;
}

std::string FilterKeyOf(std::string_view block_key) {
  std::string key(block_key);
  key[0] = kFilterTag;
  return key;
}

std::string BlockKeyOf(std::string_view filter_key) {
  std::string key(filter_key);
  key[0] = kBlockTag;
  return key;
}

std::string FilterPrefix(uint64_t service_hash) {
  std::string key(1, kFilterTag);
  AppendBigEndian64(key, service_hash);
  return key;
}

int64_t BlockKeyMaxStart(std::string_view key) {
  return static_cast<int64_t>(~DecodeBigEndian64(key.substr(9)));
}

std::string AttributeKey(std::string_view catalog_key) {
  std::string key(1, kAttributeTag);
  key.append(catalog_key);
  return key;
}

std::string CatalogKey(std::string_view service, std::string_view operation, uint8_t kind) {
  std::string key(1, kCatalogTag);
  key.append(service);
  key.push_back('\0');
  key.append(operation);
  key.push_back('\0');
  key.push_back(static_cast<char>(kind));
  return key;
}

std::string DependencyKey(std::string_view tenant, int64_t bucket, std::string_view parent,
                          std::string_view child) {
  std::string key(1, kDependencyTag);
  AppendBigEndian64(key, static_cast<uint64_t>(bucket));
  if (!tenant.empty()) {
    key.push_back(kDependencyTenantMark);
    key.append(tenant);
    key.push_back('\0');
  }
  key.append(parent);
  key.push_back('\0');
  key.append(child);
  return key;
}

std::optional<DecodedDependencyKey> DecodeDependencyKey(std::string_view key) {
  if (key.size() < 10 || key[0] != kDependencyTag) return std::nullopt;
  DecodedDependencyKey out;
  out.bucket = static_cast<int64_t>(DecodeBigEndian64(key.substr(1)));
  std::string_view names = key.substr(9);
  if (names.front() == kDependencyTenantMark) {
    auto z = names.find('\0');
    if (z == std::string_view::npos || z == 1) return std::nullopt;
    out.tenant = std::string(names.substr(1, z - 1));
    names.remove_prefix(z + 1);
  }
  auto z = names.find('\0');
  if (z == std::string_view::npos) return std::nullopt;
  out.parent = std::string(names.substr(0, z));
  out.child = std::string(names.substr(z + 1));
  return out;
}

std::optional<DecodedChunkKey> DecodeTraceChunkKey(std::string_view key) {
  if (key.size() != kTraceChunkKeyLength || key[0] != kTraceChunkTag) return std::nullopt;
  DecodedChunkKey out;
  std::copy(key.begin() + 1, key.begin() + 17, out.trace_id.bytes.begin());
  out.seq = DecodeBigEndian64(key.substr(17));
  return out;
}

std::string RowKindName(char tag) {
  switch (tag) {
    case kTraceChunkTag:
      return "trace chunks (T)";
    case kResourceTag:
      return "resources (R)";
    case kScopeTag:
      return "scopes (S)";
    case kMetaTag:
      return "sequence numbers (M)";
    case kIndexLogTag:
      return "index log (L)";
    case kBlockTag:
      return "index blocks (B)";
    case kFilterTag:
      return "index filters (F)";
    case kCatalogTag:
      return "catalog (C)";
    case kDependencyTag:
      return "dependencies (D)";
    case kAttributeTag:
      return "attribute catalog (A)";
    default:
      return std::string("tag ") + tag;
  }
}

}  // namespace skua::storage
