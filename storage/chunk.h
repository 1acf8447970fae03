// The trace chunk: the value of a `T` row, holding the spans of one trace from one export
// request (proto/skua/storage.proto, skua.storage.TraceChunk; docs/storage.md). Encoder and
// decoder together: the encoding is written and walked by hand, field by field, so spans are
// neither copied into a TraceChunk message on the way in nor decoded before they are needed on
// the way out; it stays byte-compatible with the message.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace skua::storage {

// One stored span of a chunk: its encoding (without trace ID, times and parent span ID), its
// times and its parent span ID (empty if none).
struct ChunkSpan {
  std::string_view bytes;
  uint64_t start = 0, end = 0;
  std::string_view parent;
};

using ChunkSpanVisitor =
    std::function<void(uint64_t resource_id, uint64_t scope_id, const ChunkSpan& span)>;

// Walks an encoded TraceChunk without decoding the spans: calls fn(resource_id, scope_id,
// ChunkSpan) for each span, in order, once the whole chunk has been checked. False (and fn not
// called) if the encoding is malformed, including a time list that does not have one entry per
// span or a parent reference to no span.
bool ForEachChunkSpan(std::string_view chunk, const ChunkSpanVisitor& fn);

// Decodes one stored span of a chunk of trace `id`, putting back what the stored encoding
// leaves out: the trace ID, the times and the parent span ID. False if undecodable.
bool ParseChunkSpan(const common::TraceId& id, const ChunkSpan& stored,
                    opentelemetry::proto::trace::v1::Span* span);

// Encodes chunks. Keeps its scratch buffers from one chunk to the next; not thread-safe.
class ChunkEncoder {
 public:
  // The spans of one trace sharing a resource and a scope row.
  struct Group {
    uint64_t resource_id;
    uint64_t scope_id;
    std::vector<const opentelemetry::proto::trace::v1::Span*> spans;
  };
  // One TraceChunk value holding `groups` in order. A span's parent is stored as a reference
  // to the span holding it in the same chunk (the first with that ID), else kept apart.
  std::string Encode(const std::vector<Group>& groups);

 private:
  std::string group_buf_, scratch_, external_;
  std::vector<uint64_t> start_deltas_, durations_, parents_;
  std::vector<std::pair<std::string_view, uint64_t>> by_id_;
  std::vector<const opentelemetry::proto::trace::v1::Span*> chunk_spans_;
};

}  // namespace skua::storage
