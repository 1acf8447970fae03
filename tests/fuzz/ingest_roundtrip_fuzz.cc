// OTLP protobuf -> prepared write -> stored chunk -> decoded span: every span that the storage
// rules let in and that has valid IDs is committed to a real store and must come back from it,
// by trace ID, without an undecodable row.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "storage/span_store.h"
#include "storage/storable.h"
#include "tests/fuzz/temp_store.h"

namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
namespace storage = skua::storage;

// The ingest pipeline's rule for a span it stores.
bool ValidIds(const opentelemetry::proto::trace::v1::Span& s) {
  auto t = skua::common::TraceId::FromBytes(s.trace_id());
  auto id = skua::common::SpanId::FromBytes(s.span_id());
  return t && t->IsValid() && id && id->IsValid() &&
         (s.parent_span_id().empty() || s.parent_span_id().size() == 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ExportTraceServiceRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!storage::CheckStorable(request.resource_spans()).ok()) return 0;
  storage::SpanStore& store = skua::fuzz::TempStore(2);
  std::map<int, std::vector<storage::SpanRef>> by_shard;
  std::map<skua::common::TraceId, std::set<std::string>> expected;  // span IDs per trace
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (!ValidIds(s)) continue;
        auto id = *skua::common::TraceId::FromBytes(s.trace_id());
        by_shard[store.ShardOf(id)].push_back({&rs, &ss, &s});
        expected[id].insert(s.span_id());
      }
    }
  }
  std::vector<storage::SpanWriter::ShardWrite> writes;
  for (auto& [shard, refs] : by_shard) writes.push_back({shard, store.Prepare("", refs)});
  std::promise<absl::Status> committed;
  store.Submit(std::move(writes), [&](absl::Status st) { committed.set_value(std::move(st)); });
  if (!committed.get_future().get().ok()) abort();
  for (const auto& [id, span_ids] : expected) {
    auto trace = store.GetTrace("", id);
    if (!trace.ok() || !trace->has_value()) __builtin_trap();
    std::set<std::string> found;
    for (const auto& rs : (*trace)->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) found.insert(s.span_id());
      }
    }
    for (const auto& want : span_ids) {
      if (!found.count(want)) __builtin_trap();
    }
  }
  if (store.Stats().undecodable_rows != 0) __builtin_trap();
  return 0;
}
