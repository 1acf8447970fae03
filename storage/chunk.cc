// The trace chunk format (`T` row values): encoding a request's spans of one trace, and walking
// and decoding them again.

#include "storage/chunk.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <bit>

#include "storage/keys.h"
#include "storage/wire.h"

namespace skua::storage {
namespace {

namespace otlp = ::opentelemetry::proto::trace::v1;

constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed64 = 1;

void AppendTag(std::string& out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (field << 3) | wire_type);
}

void AppendFixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Fields of a stored span that the chunk keeps elsewhere (proto/skua/storage.proto): trace_id,
// parent_span_id, start_time_unix_nano and end_time_unix_nano.
bool KeptByChunk(int field) { return field == 1 || field == 4 || field == 7 || field == 8; }

// Appends `span` as field 3 of a SpanGroup, encoded without the fields KeptByChunk.
void AppendStoredSpan(std::string& out, const otlp::Span& span, std::string& scratch) {
  size_t n = span.ByteSizeLong();
  scratch.resize(n);
  span.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(scratch.data()));
  size_t removed = 0;
  ForEachField(scratch, [&](int field, size_t begin, size_t end) {
    if (KeptByChunk(field)) removed += end - begin;
    return true;
  });
  AppendTag(out, 3, kLengthDelimited);
  AppendVarint(out, n - removed);
  size_t kept_from = 0;
  ForEachField(scratch, [&](int field, size_t begin, size_t end) {
    if (KeptByChunk(field)) {
      out.append(scratch, kept_from, begin - kept_from);
      kept_from = end;
    }
    return true;
  });
  out.append(scratch, kept_from, std::string::npos);
}

void AppendPacked(std::string& out, uint32_t field, const std::vector<uint64_t>& values) {
  if (values.empty()) return;
  size_t bytes = 0;
  for (uint64_t v : values) bytes += (std::bit_width(v | 1) + 6) / 7;  // the varint's length
  AppendTag(out, field, kLengthDelimited);
  AppendVarint(out, bytes);
  for (uint64_t v : values) AppendVarint(out, v);
}

uint64_t ZigZag(int64_t v) { return google::protobuf::internal::WireFormatLite::ZigZagEncode64(v); }

// Appends TraceChunk.parents and external_parents for the spans of one chunk, in chunk order.
// `by_id`, `parents` and `external` are scratch space reused from chunk to chunk.
void AppendParents(std::string& out, const std::vector<const otlp::Span*>& spans,
                   std::vector<std::pair<std::string_view, uint64_t>>& by_id,
                   std::vector<uint64_t>& parents, std::string& external) {
  by_id.clear();
  for (size_t i = 0; i < spans.size(); ++i) by_id.emplace_back(spans[i]->span_id(), i + 2);
  std::sort(by_id.begin(), by_id.end());  // equal IDs: the first span first
  parents.assign(spans.size(), 0);
  external.clear();
  bool any = false;
  for (size_t i = 0; i < spans.size(); ++i) {
    std::string_view parent = spans[i]->parent_span_id();
    if (parent.empty()) continue;
    any = true;
    auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(parent, uint64_t{0}));
    if (it != by_id.end() && it->first == parent) {
      parents[i] = it->second;
    } else {
      parents[i] = 1;
      AppendTag(external, 5, kLengthDelimited);
      AppendVarint(external, parent.size());
      external.append(parent);
    }
  }
  if (!any) return;
  AppendPacked(out, 4, parents);
  out.append(external);
}

}  // namespace

std::string ChunkEncoder::Encode(const std::vector<Group>& groups) {
  std::string value;
  start_deltas_.clear();
  durations_.clear();
  chunk_spans_.clear();
  for (const auto& g : groups)
    chunk_spans_.insert(chunk_spans_.end(), g.spans.begin(), g.spans.end());
  uint64_t prev_start = 0;
  for (const auto& g : groups) {
    group_buf_.clear();
    AppendTag(group_buf_, 1, kFixed64);
    AppendFixed64(group_buf_, g.resource_id);
    AppendTag(group_buf_, 2, kFixed64);
    AppendFixed64(group_buf_, g.scope_id);
    for (const otlp::Span* span : g.spans) {
      AppendStoredSpan(group_buf_, *span, scratch_);
      uint64_t start = span->start_time_unix_nano();
      start_deltas_.push_back(ZigZag(static_cast<int64_t>(start - prev_start)));
      durations_.push_back(ZigZag(static_cast<int64_t>(span->end_time_unix_nano() - start)));
      prev_start = start;
    }
    AppendTag(value, 1, kLengthDelimited);
    AppendVarint(value, group_buf_.size());
    value.append(group_buf_);
  }
  AppendPacked(value, 2, start_deltas_);
  AppendPacked(value, 3, durations_);
  AppendParents(value, chunk_spans_, by_id_, parents_, external_);
  return value;
}

bool ForEachChunkSpan(std::string_view chunk, const ChunkSpanVisitor& fn) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(chunk.data()),
                                            static_cast<int>(chunk.size()));
  const char* base = chunk.data();
  struct Pending {
    uint64_t resource_id, scope_id;
    std::string_view bytes;
  };
  std::vector<Pending> spans;
  std::vector<uint64_t> varints[3];  // start deltas, durations (both zig-zag), parents
  const auto& parents = varints[2];
  std::vector<std::string_view> external_parents;
  while (uint32_t tag = in.ReadTag()) {
    uint32_t field = tag >> 3;
    if (tag == ((5 << 3) | 2)) {
      uint32_t len;
      if (!in.ReadVarint32(&len)) return false;
      int at = in.CurrentPosition();
      if (!in.Skip(static_cast<int>(len))) return false;
      external_parents.emplace_back(base + at, len);
      continue;
    }
    // start_deltas = 2, durations = 3 (zig-zag), parents = 4: packed, or one value per tag.
    if (field >= 2 && field <= 4 && ((tag & 7) == 0 || (tag & 7) == 2)) {
      auto& out = varints[field - 2];
      uint64_t v;
      if ((tag & 7) == 0) {
        if (!in.ReadVarint64(&v)) return false;
        out.push_back(v);
        continue;
      }
      uint32_t len;
      if (!in.ReadVarint32(&len)) return false;
      auto limit = in.PushLimit(static_cast<int>(len));
      while (in.BytesUntilLimit() > 0) {
        if (!in.ReadVarint64(&v)) return false;
        out.push_back(v);
      }
      in.PopLimit(limit);
      continue;
    }
    if (tag != ((1 << 3) | 2)) {  // groups = 1, length-delimited
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t len;
    if (!in.ReadVarint32(&len)) return false;
    int group_end = in.CurrentPosition() + static_cast<int>(len);
    if (group_end > static_cast<int>(chunk.size())) return false;
    auto limit = in.PushLimit(static_cast<int>(len));
    uint64_t resource_id = 0, scope_id = 0;
    size_t first = spans.size();
    while (uint32_t t = in.ReadTag()) {
      if (t == ((1 << 3) | 1)) {
        if (!in.ReadLittleEndian64(&resource_id)) return false;
      } else if (t == ((2 << 3) | 1)) {
        if (!in.ReadLittleEndian64(&scope_id)) return false;
      } else if (t == ((3 << 3) | 2)) {
        uint32_t n;
        if (!in.ReadVarint32(&n)) return false;
        int at = in.CurrentPosition();
        if (at + static_cast<int>(n) > group_end || !in.Skip(static_cast<int>(n))) return false;
        spans.push_back({0, 0, std::string_view(base + at, n)});
      } else if (!WireFormatLite::SkipField(&in, t)) {
        return false;
      }
    }
    in.PopLimit(limit);
    for (size_t i = first; i < spans.size(); ++i) {
      spans[i].resource_id = resource_id;
      spans[i].scope_id = scope_id;
    }
  }
  if (!in.ConsumedEntireMessage() && in.CurrentPosition() != static_cast<int>(chunk.size())) {
    return false;
  }
  if (varints[0].size() != spans.size() || varints[1].size() != spans.size()) return false;
  if (!parents.empty() && parents.size() != spans.size()) return false;
  std::vector<std::string_view> parent_ids(parents.size());
  size_t next_external = 0;
  for (size_t i = 0; i < parents.size(); ++i) {
    if (parents[i] == 0) continue;
    if (parents[i] == 1) {
      if (next_external == external_parents.size()) return false;
      parent_ids[i] = external_parents[next_external++];
      continue;
    }
    if (parents[i] - 2 >= spans.size()) return false;
    auto id = FindBytesField(spans[parents[i] - 2].bytes, 2);  // Span.span_id
    if (!id) return false;
    parent_ids[i] = *id;
  }
  if (next_external != external_parents.size()) return false;
  uint64_t start = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    start += static_cast<uint64_t>(WireFormatLite::ZigZagDecode64(varints[0][i]));
    const auto duration = static_cast<uint64_t>(WireFormatLite::ZigZagDecode64(varints[1][i]));
    fn(spans[i].resource_id, spans[i].scope_id,
       ChunkSpan{spans[i].bytes, start, start + duration,
                 parents.empty() ? std::string_view() : parent_ids[i]});
  }
  return true;
}

bool ParseChunkSpan(const common::TraceId& id, const ChunkSpan& stored, otlp::Span* span) {
  if (!span->ParseFromArray(stored.bytes.data(), static_cast<int>(stored.bytes.size()))) {
    return false;
  }
  span->set_trace_id(id.AsBytes().data(), 16);
  span->set_start_time_unix_nano(stored.start);
  span->set_end_time_unix_nano(stored.end);
  if (!stored.parent.empty()) span->set_parent_span_id(stored.parent.data(), stored.parent.size());
  return true;
}

}  // namespace skua::storage
