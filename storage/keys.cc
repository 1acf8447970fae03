#include "storage/keys.h"

#include <algorithm>

namespace skua::storage {

void AppendBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

uint64_t DecodeBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

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

std::optional<DecodedChunkKey> DecodeTraceChunkKey(std::string_view key) {
  if (key.size() != kTraceChunkKeyLength || key[0] != kTraceChunkTag) return std::nullopt;
  DecodedChunkKey out;
  std::copy(key.begin() + 1, key.begin() + 17, out.trace_id.bytes.begin());
  out.seq = DecodeBigEndian64(key.substr(17));
  return out;
}

}  // namespace skua::storage
